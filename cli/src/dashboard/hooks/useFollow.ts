// The shared shape of every stream hook: run followStream while mounted, expose
// its link status, and coalesce bursts (a replay of thousands of events) into
// one state update per frame instead of one render per event.
import { useEffect, useRef, useState } from 'react';
import { followStream, INITIAL_LINK, type BackoffOptions, type FollowOptions, type LinkStatus } from '../stream.js';

export interface UseFollowOptions<T> {
  enabled: boolean;
  open: FollowOptions<T>['open'];
  resync?: FollowOptions<T>['resync'];
  /** Applies a batch of items; called at most once per `flushMs`. */
  onBatch(items: T[]): void;
  endIsFinal?: boolean;
  backoff?: BackoffOptions;
  flushMs?: number;
}

export function useFollow<T>(o: UseFollowOptions<T>, deps: readonly unknown[]): LinkStatus {
  const [link, setLink] = useState<LinkStatus>(INITIAL_LINK);
  const latest = useRef(o);
  latest.current = o;
  useEffect(() => {
    if (!o.enabled) return undefined;
    const ac = new AbortController();
    let buf: T[] = [];
    let timer: NodeJS.Timeout | null = null;
    const flush = () => {
      timer = null;
      const items = buf;
      buf = [];
      if (items.length && !ac.signal.aborted) latest.current.onBatch(items);
    };
    void followStream<T>({
      signal: ac.signal,
      open: (s) => latest.current.open(s),
      resync: o.resync ? () => latest.current.resync!() : undefined,
      onItem: (item) => {
        buf.push(item);
        timer ??= setTimeout(flush, o.flushMs ?? 16);
      },
      onStatus: (s) => {
        if (!ac.signal.aborted) setLink(s);
      },
      endIsFinal: o.endIsFinal,
      backoff: o.backoff,
    });
    return () => {
      ac.abort();
      if (timer) clearTimeout(timer);
    };
  }, [o.enabled, ...deps]);
  return link;
}

/** Re-renders every `ms` while mounted (the status bar's "retry in" countdown). */
export function useTick(ms: number): number {
  const [n, setN] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setN((x) => x + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
  return n;
}
