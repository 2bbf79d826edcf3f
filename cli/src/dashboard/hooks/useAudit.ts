// The audit tail (auditor/admin): the newest entries, then new ones. Entries
// carry a seq, so a reconnect that re-sends the last page adds no duplicates.
import { useRef, useState } from 'react';
import type { AuditEntry, LokiClient } from '../../../../client/src/index.js';
import type { BackoffOptions, LinkStatus } from '../stream.js';
import { useFollow } from './useFollow.js';

const MAX_ENTRIES = 1000;

export interface AuditState {
  entries: AuditEntry[];
  link: LinkStatus;
}

export function useAudit(client: LokiClient, enabled: boolean, backoff?: BackoffOptions): AuditState {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const last = useRef(0);
  const link = useFollow<AuditEntry>(
    {
      enabled,
      backoff,
      open: (signal) => client.audit.tail({ last: 50, follow: true, signal }),
      onBatch: (batch) => {
        const fresh = batch.filter((e) => e.seq > last.current).sort((a, b) => a.seq - b.seq);
        if (!fresh.length) return;
        last.current = fresh[fresh.length - 1]!.seq;
        setEntries((prev) => [...prev, ...fresh].slice(-MAX_ENTRIES));
      },
    },
    [client],
  );
  return { entries, link };
}
