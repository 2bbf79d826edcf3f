// Call deadlines on one shared timer. A `deadline` in grpc-js's call options arms
// a timer per call on this side and sends `grpc-timeout`, which makes the daemon
// arm another for the same call: ≈ 8 % of the CPU of an empty unary call, both
// ends together (measured with bare grpc-js on a unix socket, 50 calls in
// flight). Here one interval checks the calls in flight and cancels the overdue
// ones, which then fail as DEADLINE_EXCEEDED exactly as before; the daemon sees
// the cancellation (RST_STREAM) as it saw its own timer fire. A deadline is
// enforced at most TICK_MS late, never early.
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { GRPC_STATUS } from '../../../common/src/index.js';

const TICK_MS = 100;

export interface PendingCall {
  /** ms since epoch after which the call is cancelled. */
  readonly at: number;
  /** Set once the call has been cancelled for its deadline. */
  expired: boolean;
  /** The call to cancel; assigned right after it starts. */
  call?: { cancel(): void };
}

export class Deadlines {
  private readonly calls = new Set<PendingCall>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts watching a call that must end within `ms`. */
  track(ms: number): PendingCall {
    const p: PendingCall = { at: this.now() + ms, expired: false };
    this.calls.add(p);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), TICK_MS);
      // The call itself keeps the process alive while it is in flight; the check never does.
      this.timer.unref();
    }
    return p;
  }

  /** The call ended (any outcome). */
  done(p: PendingCall): void {
    this.calls.delete(p);
    if (this.calls.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Cancels every call past its deadline; exposed for tests with a fake clock. */
  sweep(): void {
    const now = this.now();
    for (const p of this.calls) {
      if (p.at > now) continue;
      p.expired = true;
      this.done(p);
      p.call?.cancel();
    }
  }

  /** Stops watching everything (the client is closing; its calls end with it). */
  close(): void {
    this.calls.clear();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** What grpc-js reports for a call whose deadline passed, for the one error decoder. */
export function deadlineExceeded(): Partial<ServiceError> & { code: number; details: string } {
  return { code: GRPC_STATUS.DEADLINE_EXCEEDED, details: 'Deadline exceeded', message: `${GRPC_STATUS.DEADLINE_EXCEEDED} DEADLINE_EXCEEDED: Deadline exceeded`, metadata: new Metadata() };
}
