// The selected sandbox's log stream (last 200 lines, then follow). Logs have no
// cursor: after a reconnect the tail is fetched again and replaces the buffer.
import { useState } from 'react';
import type { LokiClient, OutputChunk } from '../../../../client/src/index.js';
import type { BackoffOptions, LinkStatus } from '../stream.js';
import { useFollow } from './useFollow.js';

const MAX_LINES = 2000;

export interface SandboxLogsState {
  lines: string[];
  link: LinkStatus;
}

export function useSandboxLogs(client: LokiClient, id: string | null, backoff?: BackoffOptions): SandboxLogsState {
  const [lines, setLines] = useState<string[]>([]);
  const decoder = new TextDecoder();
  const link = useFollow<OutputChunk>(
    {
      enabled: id !== null,
      backoff,
      endIsFinal: true,
      resync: async () => setLines([]),
      open: (signal) => client.sandboxes.logs(id!, { follow: true, tail: 200, signal }),
      onBatch: (chunks) => {
        const text = chunks.map((c) => decoder.decode(c.data, { stream: true })).join('');
        const add = text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
        setLines((prev) => [...prev, ...add].slice(-MAX_LINES));
      },
    },
    [client, id],
  );
  return { lines, link };
}
