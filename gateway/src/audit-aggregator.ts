// Folds high-volume gateway audit actions (a 429 flood, a password spray from one
// address) into counted entries: the first event of a subject (or address) in a
// window is recorded as it happens, the rest of that window becomes one entry
// with `details.count`. The log still accounts for every event — the sum of
// counts equals what happened — at a cost per window, not per request.
import type { AuditEvent } from './audit-forwarder.js';

export interface AggregateOptions {
  /** Actions folded this way (others always pass through one by one). */
  actions: readonly string[];
  windowMs: number;
  /** Distinct subject/address keys tracked per window; beyond it, events pass through uncounted. */
  maxKeys: number;
}

export const DEFAULT_AGGREGATE: AggregateOptions = {
  actions: ['rate_limit.reject', 'auth.fail'],
  windowMs: 10_000,
  maxKeys: 10_000,
};

interface Bucket {
  /** The latest folded event (its request id and address go on the counted entry). */
  last: AuditEvent;
  count: number;
  firstAt: number;
  lastAt: number;
  windowStart: number;
}

/** Who the event is about: the forwarded subject, else the client address. */
function keyOf(e: AuditEvent): string {
  const who = e.identity.subject ?? `ip:${e.identity.clientIp ?? ''}`;
  return `${e.action}\u0000${who}\u0000${e.resource}\u0000${e.result}\u0000${e.reason ?? ''}`;
}

export class AuditAggregator {
  private readonly opts: AggregateOptions;
  private readonly actions: Set<string>;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(opts: AggregateOptions, now: () => number = Date.now) {
    this.opts = opts;
    this.actions = new Set(opts.actions);
    this.now = now;
  }

  /**
   * Returns what must be recorded now: the event itself when it is the first of its
   * window (or not an aggregated action, or there is no room to track it), preceded by
   * the previous window's counted entry when this event closes that window. Empty when
   * the event was only counted.
   */
  offer(event: AuditEvent): AuditEvent[] {
    if (!this.actions.has(event.action)) return [event];
    const key = keyOf(event);
    const now = this.now();
    const b = this.buckets.get(key);
    if (b && now - b.windowStart < this.opts.windowMs) {
      b.count += 1;
      b.last = event;
      b.lastAt = now;
      return [];
    }
    if (b) {
      // Its window is over: close it here rather than waiting for the sweep, so a
      // steady flood never passes events through one by one between sweeps.
      const out = b.count > 0 ? [this.counted(b, now)] : [];
      Object.assign(b, { last: event, count: 0, firstAt: now, lastAt: now, windowStart: now });
      out.push(event);
      return out;
    }
    if (this.buckets.size >= this.opts.maxKeys) return [event];
    this.buckets.set(key, { last: event, count: 0, firstAt: now, lastAt: now, windowStart: now });
    return [event];
  }

  /** Counted entries for every window that has ended (all windows when `all`); quiet keys are forgotten. */
  sweep(all = false): AuditEvent[] {
    const now = this.now();
    const out: AuditEvent[] = [];
    for (const [key, b] of this.buckets) {
      if (!all && now - b.windowStart < this.opts.windowMs) continue;
      if (b.count > 0) out.push(this.counted(b, now));
      this.buckets.delete(key);
    }
    return out;
  }

  /** Events counted but not yet emitted. */
  pending(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.count;
    return n;
  }

  private counted(b: Bucket, now: number): AuditEvent {
    const e = b.last;
    return {
      ...e,
      details: {
        ...(e.details ?? {}),
        aggregated: true,
        count: b.count,
        first_at: new Date(b.firstAt).toISOString(),
        last_at: new Date(b.lastAt).toISOString(),
        window_s: Math.max(1, Math.round((Math.min(now, b.windowStart + this.opts.windowMs) - b.windowStart) / 1000)),
      },
    };
  }
}
