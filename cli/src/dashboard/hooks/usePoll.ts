// Polled data (sandboxes, daemon status): the client offers no stream for them.
// A failed poll keeps the last value but marks it stale with the error.
import { useEffect, useRef, useState } from 'react';

export interface Polled<T> {
  value: T | null;
  /** When `value` was fetched (ms); null before the first success. */
  at: number | null;
  error: string | null;
  /** True while the last attempt failed: `value` is no longer current. */
  stale: boolean;
  /** Fetch now (after a mutation). */
  refresh(): void;
}

export function usePoll<T>(fetch: () => Promise<T>, everyMs: number, enabled: boolean, deps: readonly unknown[]): Polled<T> {
  const [state, setState] = useState<Omit<Polled<T>, 'refresh'>>({ value: null, at: null, error: null, stale: false });
  const kick = useRef<() => void>(() => undefined);
  const latest = useRef(fetch);
  latest.current = fetch;
  useEffect(() => {
    if (!enabled) return undefined;
    let alive = true;
    let timer: NodeJS.Timeout | null = null;
    const run = async () => {
      if (timer) clearTimeout(timer);
      timer = null;
      try {
        const value = await latest.current();
        if (alive) setState({ value, at: Date.now(), error: null, stale: false });
      } catch (err) {
        if (alive) setState((s) => ({ ...s, error: (err as Error)?.message ?? String(err), stale: true }));
      }
      if (alive) timer = setTimeout(() => void run(), everyMs);
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
