// Open streams per end user on the gateway's doors. A stream (session events,
// approvals, audit tail, logs, exec) holds an HTTP/2 stream, a handler and a
// subscription for as long as it lives, ~15 KB each; without a bound a gateway
// holding one viewer's credential could open tens of thousands and never read
// them (30 000 cost lokid 260 MB and slowed every other caller's calls to
// seconds). The count is per verified subject, across both gateway doors, so a
// compromised gateway is again bounded by the credentials passing through it.
import { LokiError } from '../../../common/src/index.js';

export class StreamSlots {
  private readonly open = new Map<string, number>();

  /** `max`: auth.gateway_max_streams_per_subject (default 64, well above the gateway's own 16). */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('StreamSlots needs a positive integer max');
  }

  /**
   * Takes one slot for `subject`, or throws resource_exhausted when it holds all
   * of them; the returned function gives the slot back (calling it again does nothing).
   */
  take(subject: string): () => void {
    const n = this.open.get(subject) ?? 0;
    if (n >= this.max) {
      throw new LokiError(
        'resource_exhausted',
        `${subject} already has ${n} open streams on the gateway's door (auth.gateway_max_streams_per_subject = ${this.max}); close one first`,
      );
    }
    this.open.set(subject, n + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.open.get(subject) ?? 1) - 1;
      if (left > 0) this.open.set(subject, left);
      else this.open.delete(subject);
    };
  }

  /** Open streams of `subject` (for tests and diagnostics). */
  count(subject: string): number {
    return this.open.get(subject) ?? 0;
  }
}
