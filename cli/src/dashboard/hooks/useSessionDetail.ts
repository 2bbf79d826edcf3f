// One session's events (resumed from the last seq), its trail and diff summary.
import { useCallback, useRef, useState } from 'react';
import type { DiffSummary, LokiClient, SessionEvent, TrailEntry } from '../../../../client/src/index.js';
import type { BackoffOptions, LinkStatus } from '../stream.js';
import { useFollow } from './useFollow.js';

export interface SessionDetailState {
  events: SessionEvent[];
  trail: TrailEntry[];
  diff: DiffSummary | null;
  diffError: string | null;
  link: LinkStatus;
}

const MAX_EVENTS = 2000;

export function useSessionDetail(client: LokiClient, id: string | null, backoff?: BackoffOptions): SessionDetailState {
  const [events, setEvents] = useState<SessionEvent[]>([]);
  const [trail, setTrail] = useState<TrailEntry[]>([]);
  const [diff, setDiff] = useState<DiffSummary | null>(null);
  const [diffError, setDiffError] = useState<string | null>(null);
  const seq = useRef(0);
  const current = useRef<string | null>(null);
  if (current.current !== id) {
    current.current = id;
    seq.current = 0;
  }
  const refreshSide = useCallback(async () => {
    if (!id) return;
    const [t, d] = await Promise.allSettled([client.sessions.trail({ session_id: id, limit: 50 }), client.sessions.diff(id)]);
    if (current.current !== id) return;
    if (t.status === 'fulfilled') setTrail(t.value);
    if (d.status === 'fulfilled') {
      setDiff(d.value);
      setDiffError(null);
    } else setDiffError((d.reason as Error)?.message ?? String(d.reason));
  }, [client, id]);
  const link = useFollow<SessionEvent>(
    {
      enabled: id !== null,
      backoff,
      endIsFinal: true,
      resync: async () => {
        if (seq.current === 0) {
          setEvents([]);
          setTrail([]);
          setDiff(null);
        }
        await refreshSide();
      },
      open: (signal) => client.sessions.events(id!, { after_seq: seq.current, follow: true, signal }),
      onBatch: (batch) => {
        const fresh = batch.filter((e) => e.session_id === id && e.seq > seq.current);
        if (!fresh.length) return;
        seq.current = fresh[fresh.length - 1]!.seq;
        setEvents((prev) => [...prev, ...fresh].slice(-MAX_EVENTS));
        refreshSide().catch(() => undefined);
      },
      flushMs: 30,
    },
    [client, id],
  );
  return { events, trail, diff, diffError, link };
}
