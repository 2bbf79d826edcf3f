// Ships gateway-observed events (auth failures, denials, config reloads) to the
// daemon's audit log. Events go into a bounded buffer that is drained in order;
// while the daemon is down the buffer holds them. High-volume actions (a 429
// flood) are folded into counted entries first, so a flood costs a few entries
// per window. When the buffer is still full, forward() applies back-pressure:
// its promise resolves only once the event has a place, and the guard awaits it
// before answering, so the flooding client is slowed instead of the trail losing
// events. Memory stays bounded: each waiting event is a request in flight. The
// daemon bounds how fast it accepts records (audit.gateway_records_per_second);
// its refusal (resource_exhausted) is back-pressure too: the event is retried.
import { LokiError, type Logger } from '../../common/src/index.js';
import { AuditAggregator, DEFAULT_AGGREGATE, type AggregateOptions } from './audit-aggregator.js';
import type { AuditRecordInput, CallIdentity } from '../../client/src/grpc/index.js';

export interface AuditEvent extends AuditRecordInput {
  /** Who did it, as the daemon should record it (forwarded identity). */
  identity: CallIdentity;
}

export interface AuditSender {
  recordAudit(event: AuditRecordInput, id: CallIdentity): Promise<void>;
}

export interface AuditForwarderOptions {
  sender: AuditSender;
  capacity: number;
  log: Logger;
  onForwarded?: () => void;
  /** Only on shutdown (close) or when the daemon refuses an event as invalid; never for load (a refusal as over its bound is retried). */
  onDropped?: () => void;
  onBuffered?: (n: number) => void;
  /** Events folded into a counted entry instead of being sent one by one. */
  onAggregated?: () => void;
  /** Which actions are counted per subject/address and window (default: rate_limit.reject, auth.fail per 10 s). */
  aggregate?: AggregateOptions;
  /** First retry delay after a failed send; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /**
   * Retry delay while the daemon refuses records as over its bound
   * (resource_exhausted: audit.gateway_records_per_second); fixed, not doubled, since
   * the daemon's budget refills steadily (default 250 ms).
   */
  busyRetryMs?: number;
  /** Events the daemon refused as over its bound; each is retried, never dropped. */
  onThrottled?: () => void;
  /** Records sent concurrently (default 64). */
  maxInFlight?: number;
}

export class AuditForwarder {
  private readonly opts: AuditForwarderOptions;
  private readonly queue: AuditEvent[] = [];
  private draining = false;
  /** Events taken off the queue and being sent; they still count against capacity. */
  private inFlight = 0;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private idleWaiters: (() => void)[] = [];
  /** Events waiting for a place in the full buffer, in arrival order (back-pressure). */
  private spaceWaiters: { event: AuditEvent; resolve: () => void }[] = [];
  private readonly aggregator: AuditAggregator;
  private sweeper: NodeJS.Timeout | undefined;
  /** True while the daemon refuses records as over its bound (the retry timer then is not an outage). */
  private busy = false;

  constructor(opts: AuditForwarderOptions) {
    this.opts = opts;
    this.delay = opts.retryMs ?? 500;
    this.aggregator = new AuditAggregator(opts.aggregate ?? DEFAULT_AGGREGATE);
  }

  /**
   * Never throws and never drops while running. Resolves once the event is buffered
   * or counted; while the buffer is full it waits for a place (callers on the request
   * path await it, which slows exactly the clients producing the flood).
   */
  forward(event: AuditEvent): Promise<void> {
    if (this.closed) return Promise.resolve();
    const now = this.aggregator.offer(event);
    if (now.length === 0) {
      this.opts.onAggregated?.();
      this.armSweeper();
      return Promise.resolve();
    }
    let accepted: Promise<void> = Promise.resolve();
    for (const e of now) accepted = this.accept(e);
    return accepted;
  }

  // The last of a few events resolves last (places are given out in order).
  private accept(event: AuditEvent): Promise<void> {
    if (this.spaceWaiters.length === 0 && this.buffered() < this.opts.capacity) {
      this.enqueue(event);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.spaceWaiters.push({ event, resolve }));
  }

  /** True while waiting to retry after the daemon could not be reached (not while it only asks to slow down). */
  retrying(): boolean {
    return this.timer !== undefined && !this.busy;
  }

  buffered(): number {
    return this.queue.length + this.inFlight;
  }

  /** Events waiting for a place in the buffer (back-pressure in effect when > 0). */
  waiting(): number {
    return this.spaceWaiters.length;
  }

  /** Emits every open count now, then resolves when the buffer is empty (tests, graceful shutdown). */
  idle(): Promise<void> {
    for (const e of this.aggregator.sweep(true)) this.enqueue(e);
    if (this.buffered() === 0 && this.spaceWaiters.length === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying; whatever is still buffered or counted is counted as dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    let lost = this.queue.length + this.spaceWaiters.length + this.aggregator.sweep(true).length;
    for (const w of this.spaceWaiters) w.resolve();
    this.spaceWaiters = [];
    while (lost-- > 0) this.opts.onDropped?.();
    this.queue.length = 0;
    this.opts.onBuffered?.(0);
    this.wakeIdle();
  }

  private enqueue(event: AuditEvent): void {
    this.queue.push(event);
    this.opts.onBuffered?.(this.buffered());
    if (!this.timer) void this.drain();
  }

  /** Moves waiting events into the buffer as places free up, oldest first. */
  private admitWaiters(): void {
    while (this.spaceWaiters.length && this.buffered() < this.opts.capacity) {
      const w = this.spaceWaiters.shift()!;
      this.queue.push(w.event);
      w.resolve();
    }
  }

  // Counted entries go out when their window ends, even if the flood stopped.
  private armSweeper(): void {
    if (this.sweeper) return;
    const every = Math.max(100, Math.floor((this.opts.aggregate ?? DEFAULT_AGGREGATE).windowMs / 2));
    this.sweeper = setInterval(() => {
      for (const e of this.aggregator.sweep()) this.enqueue(e);
      if (this.aggregator.pending() === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, every);
    this.sweeper.unref();
  }

  /**
   * Sends up to `maxInFlight` events at once: each Record waits for the daemon's
   * durable group commit, so one-at-a-time would cap throughput at 1/latency and
   * drop events under load. Events that could not reach the daemon go back to
   * the front of the queue, in order, for the retry.
   */
  private async drain(): Promise<void> {
    if (this.draining || this.closed) return;
    this.draining = true;
    const window = this.opts.maxInFlight ?? 64;
    try {
      while ((this.queue.length || this.spaceWaiters.length) && !this.closed) {
        this.admitWaiters();
        const batch = this.queue.splice(0, window);
        this.inFlight = batch.length;
        const results = await Promise.allSettled(batch.map((e) => this.opts.sender.recordAudit(e, e.identity)));
        this.inFlight = 0;
        const unsent: AuditEvent[] = [];
        let unreachable: { err: unknown } | undefined;
        let busy: unknown;
        results.forEach((r, i) => {
          const event = batch[i]!;
          if (r.status === 'fulfilled') {
            this.opts.onForwarded?.();
            return;
          }
          const err = r.reason as unknown;
          // A daemon over its bound for gateway records (or this user's calls) will take
          // the event later: it waits, in order, like everything behind it.
          if (err instanceof LokiError && err.kind === 'resource_exhausted') {
            this.opts.onThrottled?.();
            busy = err;
            unsent.push(event);
            return;
          }
          // Only an unreachable daemon is worth waiting for; an event the daemon
          // refuses would block the queue forever, so it is dropped and counted.
          if (err instanceof LokiError && err.kind !== 'unavailable') {
            this.opts.onDropped?.();
            this.opts.log.error({ action: event.action, code: err.code, msg_detail: err.message }, 'daemon refused audit event; dropped');
            return;
          }
          unreachable = { err };
          unsent.push(event);
        });
        if (unsent.length) {
          this.queue.unshift(...unsent);
          this.opts.onBuffered?.(this.queue.length);
          if (unreachable !== undefined) {
            this.busy = false;
            this.scheduleRetry(unreachable.err);
          } else this.scheduleBusyRetry(busy);
          return;
        }
        this.delay = this.opts.retryMs ?? 500;
        this.busy = false;
        this.opts.onBuffered?.(this.buffered());
      }
    } finally {
      this.draining = false;
    }
    this.wakeIdle();
  }

  // Said once per busy spell (the daemon logs and audits its side), not every 250 ms.
  private scheduleBusyRetry(err: unknown): void {
    if (!this.busy) {
      this.busy = true;
      this.opts.log.warn({ err: (err as Error).message, buffered: this.queue.length }, 'daemon is refusing audit records as over its bound; holding them and retrying');
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.opts.busyRetryMs ?? 250);
    this.timer.unref();
  }

  private scheduleRetry(err: unknown): void {
    this.opts.log.warn({ err: (err as Error).message, buffered: this.queue.length, retry_ms: this.delay }, 'audit forward failed; will retry');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? 30_000);
  }

  private wakeIdle(): void {
    if (this.queue.length || this.spaceWaiters.length) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const fn of w) fn();
  }
}
