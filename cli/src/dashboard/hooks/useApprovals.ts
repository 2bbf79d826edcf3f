// Pending approvals: resynchronised from approvals.list on every (re)connect,
// then kept current by the approvals watch stream.
import { useCallback, useRef, useState } from 'react';
import type { Approval, ApprovalEvent, LokiClient } from '../../../../client/src/index.js';
import type { BackoffOptions, LinkStatus } from '../stream.js';
import { useFollow } from './useFollow.js';

export interface ApprovalsState {
  pending: Approval[];
  /** Decided or expired since the dashboard opened, newest first. */
  recent: Approval[];
  link: LinkStatus;
  lastEventAt: number | null;
  /** Re-read the pending list (after the daemon came back). */
  resync(): void;
}

function byRequested(a: Approval, b: Approval): number {
  return (a.requested_at ?? '').localeCompare(b.requested_at ?? '') || a.id.localeCompare(b.id);
}

export function useApprovals(client: LokiClient, backoff?: BackoffOptions): ApprovalsState {
  const map = useRef(new Map<string, Approval>());
  const [pending, setPending] = useState<Approval[]>([]);
  const [recent, setRecent] = useState<Approval[]>([]);
  const [lastEventAt, setLastEventAt] = useState<number | null>(null);
  const publish = useCallback(() => setPending([...map.current.values()].sort(byRequested)), []);
  const resync = useCallback(async () => {
    const list = await client.approvals.list({ status: 'pending' });
    map.current = new Map(list.map((a) => [a.id, a]));
    publish();
  }, [client, publish]);
  const link = useFollow<ApprovalEvent>(
    {
      enabled: true,
      backoff,
      resync,
      open: (signal) => client.approvals.watch({ include_pending: true, signal }),
      onBatch: (events) => {
        // One approval can arrive several times in a batch (decided, then consumed): keep its newest
        // state once, so the list never holds two rows for one approval (React keys must be unique).
        const done = new Map<string, Approval>();
        for (const { approval } of events) {
          if (approval.status === 'pending') map.current.set(approval.id, approval);
          else if (map.current.delete(approval.id) || approval.decided_at) {
            done.delete(approval.id);
            done.set(approval.id, approval);
          }
        }
        publish();
        if (done.size) {
          const newest = [...done.values()].reverse();
          setRecent((prev) => [...newest, ...prev.filter((p) => !done.has(p.id))].slice(0, 20));
        }
        setLastEventAt(Date.now());
      },
    },
    [client],
  );
  return { pending, recent, link, lastEventAt, resync: () => void resync().catch(() => undefined) };
}
