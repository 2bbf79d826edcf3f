// Polled data (sandboxes, daemon status): the client offers no stream for them.
// A failed poll keeps the last value but marks it stale with the error.
import { useEffect, useRef, useState } from 'react';
import { backoffDelay } from '../stream.js';

export interface Polled<T> {
  value: T | null;
  /** When `value` was fetched (ms); null before the first success. */
  at: number | null;
  error: string | null;
  /** True while the last attempt failed: `value` is no longer current. */
  stale: boolean;
  /** Failed attempts in a row. */
  failures: number;
  /** When the next attempt starts (ms), while failing. */
  retryAt: number | null;
  /** Fetch now (after a mutation). */
  refresh(): void;
}

export function usePoll<T>(fetch: () => Promise<T>, everyMs: number, enabled: boolean, deps: readonly unknown[]): Polled<T> {
  const [state, setState] = useState<Omit<Polled<T>, 'refresh'>>({ value: null, at: null, error: null, stale: false, failures: 0, retryAt: null });
  const kick = useRef<() => void>(() => undefined);
  const latest = useRef(fetch);
  latest.current = fetch;
  useEffect(() => {
    if (!enabled) return undefined;
    let alive = true;
    let failures = 0;
    let timer: NodeJS.Timeout | null = null;
    const run = async () => {
      if (timer) clearTimeout(timer);
      timer = null;
      let wait = everyMs;
      try {
        const value = await latest.current();
        failures = 0;
        if (alive) setState({ value, at: Date.now(), error: null, stale: false, failures: 0, retryAt: null });
      } catch (err) {
        failures++;
        // Retry sooner than the poll period at first, then back off (0.5 s, 1 s, 2 s … ≤ the period).
        wait = Math.min(everyMs, backoffDelay(failures));
        const retryAt = Date.now() + wait;
        const f = failures;
        if (alive) setState((s) => ({ ...s, error: (err as Error)?.message ?? String(err), stale: true, failures: f, retryAt }));
      }
      if (alive) timer = setTimeout(() => void run(), wait);
    };
    kick.current = () => void run();
    void run();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
  }, [enabled, everyMs, ...deps]);
  return { ...state, refresh: () => kick.current() };
}
