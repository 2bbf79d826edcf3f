// Resuming a stream after a dropped connection: reopen from the cursor of the
// last event delivered (seq, gid, SSE Last-Event-ID), so the consumer sees
// neither a gap nor a duplicate. Only transport failures are retried; a Loki
// error from the server (not found, permission) ends the stream at once.
import { LokiError } from '../../common/src/index.js';

export interface ResumeOptions<T> {
  start: number;
  cursorOf(item: T): number;
  /** Opens the stream after `cursor`. */
  open(cursor: number): AsyncIterable<T>;
  /** Which errors mean "connection lost" (default: kind unavailable). */
  retryable?(err: unknown): boolean;
  /** Consecutive failed reconnects before giving up (default 5). */
  attempts?: number;
  /** First back-off delay in ms, doubled per failed attempt (default 250). */
  delayMs?: number;
  /** Cap of the back-off delay (default: none). */
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Told before each reconnect: a follower can say the stream is being re-established rather than sit silent. */
  onReconnect?: ReconnectListener;
}

/** A stream lost its connection and tries again: try `attempt` of `of` (Infinity: until stopped), after `delay_ms`. */
export type ReconnectListener = (r: { attempt: number; of: number; delay_ms: number; error: unknown }) => void;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export async function* resumable<T>(o: ResumeOptions<T>): AsyncGenerator<T> {
  const retryable = o.retryable ?? ((e: unknown) => e instanceof LokiError && e.kind === 'unavailable');
  const max = o.attempts ?? 5;
  let cursor = o.start;
  let failures = 0;
  for (;;) {
    try {
      for await (const item of o.open(cursor)) {
        const c = o.cursorOf(item);
        // A replayed event at or before the cursor was already delivered.
        if (c <= cursor) continue;
        cursor = c;
        failures = 0;
        yield item;
      }
      return;
    } catch (err) {
      if (o.signal?.aborted) return;
      if (!retryable(err) || ++failures > max) throw err;
      const delay = Math.min((o.delayMs ?? 250) * 2 ** (failures - 1), o.maxDelayMs ?? Infinity);
      o.onReconnect?.({ attempt: failures, of: max === Number.MAX_SAFE_INTEGER ? Infinity : max, delay_ms: delay, error: err });
      await sleep(delay, o.signal);
      if (o.signal?.aborted) return;
    }
  }
}
