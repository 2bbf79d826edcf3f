// What one end user may hold at once on the gateway's doors: open streams, and
// unary calls in progress. Each is counted per verified subject, across both
// gateway doors, so a compromised gateway is again bounded by the credentials
// passing through it.
//
// Streams: a stream (session events, approvals, audit tail, logs, exec) holds an
// HTTP/2 stream, a handler and a subscription for as long as it lives, ~15 KB
// each; without a bound a gateway holding one viewer's credential could open tens
// of thousands and never read them (30 000 cost lokid 260 MB and slowed every
// other caller's calls to seconds).
//
// Calls: a unary call holds its handler's work until it answers; an expensive one
// (an audit summary or verification over a large log, a long list) sent a few
// hundred times at once by one credential made every other user's calls wait
// behind them. The gateway itself lets a user have `rate_limit.concurrency`
// (default 8) requests in progress, so the default bound here is far above what
// an honest gateway sends.
import { LokiError } from '../../../common/src/index.js';

/** What is counted, for the refusal's message. */
export interface SlotKind {
  /** "open streams", "calls in progress". */
  what: string;
  /** The setting that sets the bound, e.g. "auth.gateway_max_streams_per_subject". */
  setting: string;
  /** What the caller can do about it: "close one first". */
  then: string;
}

export const STREAM_SLOTS: SlotKind = { what: 'open streams', setting: 'auth.gateway_max_streams_per_subject', then: 'close one first' };
export const CALL_SLOTS: SlotKind = { what: 'calls in progress', setting: 'auth.gateway_max_calls_per_subject', then: 'retry when one has answered' };

export class SubjectSlots {
  private readonly held = new Map<string, number>();

  /** `max`: auth.gateway_max_streams_per_subject or auth.gateway_max_calls_per_subject (default 64 each). */
  constructor(
    readonly max: number,
    readonly kind: SlotKind,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new Error('SubjectSlots needs a positive integer max');
  }

  /**
   * Takes one slot for `subject`, or throws resource_exhausted when it holds all
   * of them; the returned function gives the slot back (calling it again does nothing).
   */
  take(subject: string): () => void {
    const n = this.held.get(subject) ?? 0;
    if (n >= this.max) {
      const { what, setting, then } = this.kind;
      throw new LokiError('resource_exhausted', `${subject} already has ${n} ${what} on the gateway's door (${setting} = ${this.max}); ${then}`);
    }
    this.held.set(subject, n + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.held.get(subject) ?? 1) - 1;
      if (left > 0) this.held.set(subject, left);
      else this.held.delete(subject);
    };
  }

  /** Slots `subject` holds (for tests and diagnostics). */
  count(subject: string): number {
    return this.held.get(subject) ?? 0;
  }
}
