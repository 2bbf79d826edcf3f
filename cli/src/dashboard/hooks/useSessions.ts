// The sessions list: a snapshot from sessions.list, kept current by the
// all-sessions event stream (resumed from the last gid after a reconnect).
import { useCallback, useRef, useState } from 'react';
import type { LokiClient, Session, SessionEvent } from '../../../../client/src/index.js';
import type { BackoffOptions, LinkStatus } from '../stream.js';
import { useFollow } from './useFollow.js';

export interface SessionsState {
  sessions: Session[];
  link: LinkStatus;
  /** Time of the newest event seen on any session (ISO). */
  lastEventTime: string | null;
  /** When the list was last known to match the daemon (ms). */
  syncedAt: number | null;
  /** Re-read the list (after the daemon came back). */
  resync(): void;
}

export function useSessions(client: LokiClient, backoff?: BackoffOptions): SessionsState {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [lastEventTime, setLastEventTime] = useState<string | null>(null);
  const [syncedAt, setSyncedAt] = useState<number | null>(null);
  const gid = useRef(0);
  const refetch = useCallback(async () => {
    const list = await client.sessions.list({ all: true });
    setSessions(list);
    setSyncedAt(Date.now());
  }, [client]);
  const link = useFollow<SessionEvent>(
    {
      enabled: true,
      backoff,
      resync: refetch,
      open: (signal) => client.sessions.allEvents({ after_gid: gid.current, follow: true, signal }),
      onBatch: (events) => {
        for (const e of events) if (e.gid > gid.current) gid.current = e.gid;
        setLastEventTime(events[events.length - 1]!.time);
        // An event can change any field of its session (state, counters): re-read the list.
        refetch().catch(() => undefined);
      },
      flushMs: 100,
    },
    [client],
  );
  return { sessions, link, lastEventTime, syncedAt, resync: () => void refetch().catch(() => undefined) };
}
