// Abuse resistance in one place: per-subject and per-IP sliding-window rate
// limits (with a short burst window), auth-failure lockout per IP, a
// per-subject concurrency limit with a brief queue, a separate per-subject cap
// on open streams, and a global in-flight cap that also feeds /healthz/ready.
// Memory is bounded everywhere.
import { LokiError } from '../../../common/src/index.js';
import type { RateLimitStore, WindowResult } from './store.js';

export interface LimiterSettings {
  per_minute: number;
  burst: number;
  unauthenticated_per_minute: number;
  concurrency: number;
  /** Open long-lived streams (SSE) per subject; they do not take concurrency slots. */
  max_streams_per_subject: number;
  queue_ms: number;
  max_in_flight: number;
  max_entries: number;
  lockout_failures: number;
  lockout_window_s: number;
  lockout_duration_s: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
  /** Which window rejected (for the metric label). */
  scope: 'subject' | 'ip';
}

/** One subject's concurrency slots (handed out by `takeSlot`, given back with `giveSlot`). */
export interface Slot {
  active: number;
  waiters: (() => void)[];
}

const MINUTE = 60_000;

interface RateKeys {
  burst: string;
  minute: string;
}

function refusedByBurst(kind: RateDecision['scope'], limit: number, burst: WindowResult): RateDecision {
  return { allowed: false, limit, remaining: 0, resetSeconds: burst.resetSeconds, scope: kind };
}

function decision(kind: RateDecision['scope'], limit: number, minute: WindowResult): RateDecision {
  return { allowed: minute.allowed, limit, remaining: minute.remaining, resetSeconds: minute.resetSeconds, scope: kind };
}
// "burst 10" = at most `burst` requests in any one second, on top of the per-minute budget.
const BURST_WINDOW = 1000;

export class RequestLimiter {
  private settings: LimiterSettings;
  private readonly store: RateLimitStore;
  private readonly lockedUntil = new Map<string, number>();
  private readonly slots = new Map<string, Slot>();
  private readonly streams = new Map<string, number>();
  private readonly subjectKeys = new Map<string, RateKeys>();
  private readonly ipKeys = new Map<string, RateKeys>();
  private inFlight = 0;

  constructor(opts: { store: RateLimitStore; settings: LimiterSettings }) {
    this.store = opts.store;
    this.settings = { ...opts.settings };
  }

  /** SIGHUP: new limits apply to the next request; existing counters are kept. */
  update(settings: LimiterSettings): void {
    this.settings = { ...settings };
  }

  current(): Readonly<LimiterSettings> {
    return this.settings;
  }

  async checkRate(kind: 'subject' | 'ip', key: string, now: number): Promise<RateDecision> {
    const at = this.checkRateNow(kind, key, now);
    if (at) return at;
    const s = this.settings;
    const limit = kind === 'subject' ? s.per_minute : s.unauthenticated_per_minute;
    const keys = this.keysFor(kind, key);
    const burst = await this.store.hit(keys.burst, BURST_WINDOW, s.burst, now);
    if (!burst.allowed) return refusedByBurst(kind, limit, burst);
    return decision(kind, limit, await this.store.hit(keys.minute, MINUTE, limit, now));
  }

  /** `checkRate` without a promise when the store keeps its counters in memory; undefined when it must be awaited. */
  checkRateNow(kind: 'subject' | 'ip', key: string, now: number): RateDecision | undefined {
    if (!this.store.hitNow) return undefined;
    const s = this.settings;
    const limit = kind === 'subject' ? s.per_minute : s.unauthenticated_per_minute;
    const keys = this.keysFor(kind, key);
    const burst = this.store.hitNow(keys.burst, BURST_WINDOW, s.burst, now);
    if (!burst.allowed) return refusedByBurst(kind, limit, burst);
    return decision(kind, limit, this.store.hitNow(keys.minute, MINUTE, limit, now));
  }

  /**
   * The store keys of one subject or address, built once: a key concatenated per request is a
   * new string the store's map must flatten and hash every time; a kept one is hashed once.
   * Bounded like the store (cleared when full; the keys are rebuilt on demand).
   */
  private keysFor(kind: 'subject' | 'ip', key: string): RateKeys {
    const m = kind === 'subject' ? this.subjectKeys : this.ipKeys;
    let k = m.get(key);
    if (!k) {
      if (m.size >= this.settings.max_entries) m.clear();
      k = { burst: `b:${kind}:${key}`, minute: `m:${kind}:${key}` };
      m.set(key, k);
    }
    return k;
  }

  /** True while `ip` is locked out of further authentication attempts. */
  isLockedOut(ip: string, now: number): boolean {
    const until = this.lockedUntil.get(ip);
    if (until === undefined) return false;
    if (until > now) return true;
    this.lockedUntil.delete(ip);
    return false;
  }

  /** Seconds left on a lockout (for Retry-After). */
  lockoutSeconds(ip: string, now: number): number {
    return Math.max(1, Math.ceil(((this.lockedUntil.get(ip) ?? now) - now) / 1000));
  }

  /**
   * The 429 for a request from a locked-out address. It says what happened, for how long, and that a
   * valid token is refused too (by design: a lockout must hold against a guessed valid token, and it is
   * checked before any daemon call); `hint` adds what this caller can do instead.
   */
  lockedOutError(ip: string, now: number, hint = ''): LokiError {
    return new LokiError(
      'resource_exhausted',
      `this address (${ip}) is locked out for ${this.lockoutSeconds(ip, now)} s after repeated failed authentication attempts; until then the gateway does not check credentials from it, so even a valid token is refused${hint}`,
    );
  }

  /** Counts a failed authentication; the Nth failure in the window locks the IP. */
  async recordAuthFailure(ip: string, now: number): Promise<boolean> {
    const s = this.settings;
    const r = await this.store.hit(`f:${ip}`, s.lockout_window_s * 1000, s.lockout_failures, now);
    if (r.allowed && r.remaining > 0) return false;
    if (this.lockedUntil.size >= this.settings.max_entries) this.pruneLockouts(now);
    this.lockedUntil.set(ip, now + s.lockout_duration_s * 1000);
    await this.store.delete(`f:${ip}`);
    return true;
  }

  /** Fraction of the global in-flight budget still free (readiness drains below 10%). */
  headroom(): number {
    return 1 - this.inFlight / this.settings.max_in_flight;
  }

  /** Enters the global in-flight count; exempt routes are never refused. */
  enter(exempt: boolean): () => void {
    this.enterNow(exempt);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.leave();
    };
  }

  /**
   * `enter` without a release function, for a caller that guarantees one `leave()` per
   * successful call (the guard's `Releases`): no closure per request.
   */
  enterNow(exempt: boolean): void {
    if (!exempt && this.inFlight >= this.settings.max_in_flight) {
      throw new LokiError('unavailable', 'the gateway is at capacity; retry shortly');
    }
    this.inFlight += 1;
  }

  /** Leaves the global in-flight count (once per successful `enterNow`). */
  leave(): void {
    this.inFlight -= 1;
  }

  /** A concurrency slot when one is free now (exempt routes always get one); undefined when `acquire` must queue or refuse. */
  tryAcquire(subject: string, exempt: boolean): (() => void) | undefined {
    const slot = this.takeSlot(subject, exempt);
    return slot && this.releaser(subject, slot);
  }

  /**
   * `tryAcquire` without a release function: the subject's slot record, to be given back
   * exactly once with `giveSlot` (the guard's `Releases` guarantees that).
   */
  takeSlot(subject: string, exempt: boolean): Slot | undefined {
    let slot = this.slots.get(subject);
    if (!slot) {
      if (this.slots.size >= this.settings.max_entries) this.pruneSlots();
      slot = { active: 0, waiters: [] };
      this.slots.set(subject, slot);
    }
    if (slot.active >= this.settings.concurrency && !exempt) return undefined;
    slot.active += 1;
    return slot;
  }

  /**
   * Gives back a slot taken with `takeSlot` (hands it to the next waiter, if any). An idle
   * subject's record stays (a request at a time would otherwise delete and re-create it on
   * every request); idle records are dropped when the map reaches `max_entries`.
   */
  giveSlot(_subject: string, slot: Slot): void {
    const next = slot.waiters.length ? slot.waiters.shift() : undefined;
    if (next) {
      next();
      return;
    }
    slot.active -= 1;
  }

  private pruneSlots(): void {
    for (const [subject, slot] of this.slots) if (slot.active <= 0 && slot.waiters.length === 0) this.slots.delete(subject);
  }

  /**
   * Takes one of the subject's concurrency slots, waiting up to `queue_ms` for
   * one to free up; then 503. Exempt routes always get a slot.
   */
  async acquire(subject: string, exempt: boolean): Promise<() => void> {
    const free = this.tryAcquire(subject, exempt);
    if (free) return free;
    const s = this.slots.get(subject)!;
    const queueCap = this.settings.concurrency * 4;
    if (s.waiters.length >= queueCap || this.settings.queue_ms === 0) {
      throw new LokiError('unavailable', `too many concurrent requests for ${subject}; retry shortly`);
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = s.waiters.indexOf(waiter);
        if (i >= 0) s.waiters.splice(i, 1);
        reject(new LokiError('unavailable', `too many concurrent requests for ${subject}; retry shortly`));
      }, this.settings.queue_ms);
      s.waiters.push(waiter);
    });
    // The releasing request handed its slot over without decrementing `active`.
    return this.releaser(subject, s);
  }

  /**
   * Opens one of the subject's stream places (SSE). No queue: a dashboard that
   * cannot open now should be told at once, and a stream would never free a
   * place within a short wait anyway. Exempt routes always get one.
   */
  openStream(subject: string, exempt: boolean): () => void {
    const open = this.streams.get(subject) ?? 0;
    const max = this.settings.max_streams_per_subject;
    if (open >= max && !exempt) {
      throw new LokiError('resource_exhausted', `too many open event streams for ${subject} (limit ${max}); close a dashboard or stream and retry`);
    }
    this.streams.set(subject, open + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.streams.get(subject) ?? 1) - 1;
      if (left <= 0) this.streams.delete(subject);
      else this.streams.set(subject, left);
    };
  }

  /** Streams the subject has open now (tests, metrics). */
  openStreams(subject: string): number {
    return this.streams.get(subject) ?? 0;
  }

  private releaser(subject: string, slot: Slot): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.giveSlot(subject, slot);
    };
  }

  private pruneLockouts(now: number): void {
    for (const [ip, until] of this.lockedUntil) if (until <= now) this.lockedUntil.delete(ip);
    while (this.lockedUntil.size >= this.settings.max_entries) {
      const oldest = this.lockedUntil.keys().next();
      if (oldest.done) break;
      this.lockedUntil.delete(oldest.value);
    }
  }
}
