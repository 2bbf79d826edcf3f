// Ships gateway-observed events (auth failures, denials, config reloads) to the
// daemon's audit log. The request path never waits on it: events go into a
// bounded buffer that is drained in order; while the daemon is down the buffer
// holds them, and when it is full new events are dropped and counted
// (loki_audit_events_dropped_total) rather than growing memory.
import { LokiError, type Logger } from '../../common/src/index.js';
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
  onDropped?: () => void;
  onBuffered?: (n: number) => void;
  /** First retry delay after a failed send; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
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

  constructor(opts: AuditForwarderOptions) {
    this.opts = opts;
    this.delay = opts.retryMs ?? 500;
  }

  /** Never throws, never blocks. */
  forward(event: AuditEvent): void {
    if (this.closed) return;
    if (this.queue.length + this.inFlight >= this.opts.capacity) {
      this.opts.onDropped?.();
      this.opts.log.warn({ action: event.action }, 'audit buffer full; event dropped');
      return;
    }
    this.queue.push(event);
    this.opts.onBuffered?.(this.buffered());
    if (!this.timer) void this.drain();
  }

  /** True while waiting to retry after the daemon could not be reached. */
  retrying(): boolean {
    return this.timer !== undefined;
  }

  buffered(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves when the buffer is empty (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.buffered() === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying; whatever is still buffered is counted as dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let i = 0; i < this.queue.length; i++) this.opts.onDropped?.();
    this.queue.length = 0;
    this.opts.onBuffered?.(0);
    this.wakeIdle();
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
      while (this.queue.length && !this.closed) {
        const batch = this.queue.splice(0, window);
        this.inFlight = batch.length;
        const results = await Promise.allSettled(batch.map((e) => this.opts.sender.recordAudit(e, e.identity)));
        this.inFlight = 0;
        const unsent: AuditEvent[] = [];
        let unreachable: unknown;
        results.forEach((r, i) => {
          const event = batch[i]!;
          if (r.status === 'fulfilled') {
            this.opts.onForwarded?.();
            return;
          }
          const err = r.reason as unknown;
          // Only an unreachable daemon is worth waiting for; an event the daemon
          // refuses would block the queue forever, so it is dropped and counted.
          if (err instanceof LokiError && err.kind !== 'unavailable') {
            this.opts.onDropped?.();
            this.opts.log.error({ action: event.action, code: err.code, msg_detail: err.message }, 'daemon refused audit event; dropped');
            return;
          }
          unreachable = err;
          unsent.push(event);
        });
        if (unsent.length) {
          this.queue.unshift(...unsent);
          this.opts.onBuffered?.(this.queue.length);
          this.scheduleRetry(unreachable);
          return;
        }
        this.delay = this.opts.retryMs ?? 500;
        this.opts.onBuffered?.(this.queue.length);
      }
    } finally {
      this.draining = false;
    }
    this.wakeIdle();
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
    if (this.queue.length) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const fn of w) fn();
  }
}
