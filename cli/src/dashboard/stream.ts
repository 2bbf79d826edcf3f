// Follows one client stream across connection loss. The client's transports
// resume on their own while a connection blips; this is the outer loop for when
// a stream fails outright (daemon restarted, gateway gone): it reports
// "reconnecting" with a growing back-off, reopens from the last cursor the
// caller saw, and lets the caller resynchronise its snapshot before it calls
// the data live again, so nothing stale is ever presented as current.
import { LokiError } from '../../../common/src/index.js';

export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'denied';

export interface LinkStatus {
  state: LinkState;
  /** Failed attempts in a row (0 while live). */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while reconnecting. */
  retryAt: number | null;
  error: string | null;
}

export const INITIAL_LINK: LinkStatus = { state: 'connecting', attempt: 0, retryAt: null, error: null };

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000 };

/** 500 ms, 1 s, 2 s … capped: the wait before attempt `n` (1-based). */
export function backoffDelay(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF): number {
  return Math.min(o.maxMs, o.initialMs * 2 ** Math.max(0, attempt - 1));
}

export interface FollowOptions<T> {
  /** Opens the stream from the caller's last cursor (read at call time). */
  open(signal: AbortSignal): AsyncIterable<T>;
  /** Called before each (re)open: refetch the snapshot the stream patches. */
  resync?(): Promise<void>;
  onItem(item: T): void;
  onStatus(s: LinkStatus): void;
  signal: AbortSignal;
  backoff?: BackoffOptions;
  /** A stream that ends on its own (one finished session) is done, not lost. */
  endIsFinal?: boolean;
}

/** Errors that a retry cannot fix: say so once and stop. */
function isFinal(err: unknown): boolean {
  return err instanceof LokiError && (err.kind === 'permission_denied' || err.kind === 'unauthenticated' || err.kind === 'not_found' || err.kind === 'invalid_argument');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function followStream<T>(o: FollowOptions<T>): Promise<void> {
  let attempt = 0;
  while (!o.signal.aborted) {
    const inner = new AbortController();
    const stop = () => inner.abort();
    o.signal.addEventListener('abort', stop, { once: true });
    try {
      if (o.resync) await o.resync();
      o.onStatus({ state: 'live', attempt: 0, retryAt: null, error: null });
      attempt = 0;
      for await (const item of o.open(inner.signal)) {
        if (o.signal.aborted) break;
        o.onItem(item);
      }
      if (o.signal.aborted) return;
      if (o.endIsFinal) {
        o.onStatus({ state: 'ended', attempt: 0, retryAt: null, error: null });
        return;
      }
      throw new Error('stream closed by the server');
    } catch (err) {
      if (o.signal.aborted) return;
      const message = (err as Error)?.message ?? String(err);
      if (isFinal(err)) {
        o.onStatus({ state: 'denied', attempt, retryAt: null, error: message });
        return;
      }
      attempt++;
      const wait = backoffDelay(attempt, o.backoff);
      o.onStatus({ state: 'reconnecting', attempt, retryAt: Date.now() + wait, error: message });
      await sleep(wait, o.signal);
    } finally {
      inner.abort();
      o.signal.removeEventListener('abort', stop);
    }
  }
}
