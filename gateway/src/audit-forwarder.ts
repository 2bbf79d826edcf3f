// Ships gateway-observed events (auth failures, denials, config reloads) to the
// daemon's audit log. The request path never waits on it: events go into a
// bounded buffer that is drained in order; while the daemon is down the buffer
// holds them, and when it is full new events are dropped and counted
// (loki_audit_events_dropped_total) rather than growing memory.
import { LokiError, type Logger } from '../../common/src/index.js';
import type { AuditRecordInput, CallIdentity } from './daemon-client.js';

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
}

export class AuditForwarder {
  private readonly opts: AuditForwarderOptions;
  private readonly queue: AuditEvent[] = [];
  private draining = false;
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
    if (this.queue.length >= this.opts.capacity) {
      this.opts.onDropped?.();
      this.opts.log.warn({ action: event.action }, 'audit buffer full; event dropped');
      return;
    }
    this.queue.push(event);
    this.opts.onBuffered?.(this.queue.length);
    if (!this.timer) void this.drain();
  }

  /** True while waiting to retry after the daemon could not be reached. */
  retrying(): boolean {
    return this.timer !== undefined;
  }

  buffered(): number {
    return this.queue.length;
  }

  /** Resolves when the buffer is empty (tests, graceful shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.draining) return Promise.resolve();
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

  private async drain(): Promise<void> {
    if (this.draining || this.closed) return;
    this.draining = true;
    try {
      while (this.queue.length && !this.closed) {
        const event = this.queue[0]!;
        try {
          await this.opts.sender.recordAudit(event, event.identity);
        } catch (err) {
          // Only an unreachable daemon is worth waiting for; an event the daemon
          // refuses would block the queue forever, so it is dropped and counted.
          if (err instanceof LokiError && err.kind !== 'unavailable') {
            this.queue.shift();
            this.opts.onDropped?.();
            this.opts.log.error({ action: event.action, code: err.code, msg_detail: err.message }, 'daemon refused audit event; dropped');
            continue;
          }
          this.scheduleRetry(err);
          return;
        }
        this.queue.shift();
        this.delay = this.opts.retryMs ?? 500;
        this.opts.onForwarded?.();
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
