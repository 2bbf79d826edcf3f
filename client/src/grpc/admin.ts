// The admin socket as a LokiClient: what `loki` and the dashboards use on the
// daemon's host. The daemon gives this door the local-admin role (its file mode
// decides who can connect); the uid sent here is informational for the audit.
import { randomUUID } from 'node:crypto';
import type { LokiClient } from '../client.js';
import { createDaemonClient } from './daemon-client.js';

export interface AdminSocketOptions {
  socketPath: string;
  /** Deadline of a plain call (default 30 s; slow calls get longer). */
  timeoutMs?: number;
}

export function connectAdminSocket(o: AdminSocketOptions): LokiClient {
  const daemon = createDaemonClient({
    socketPath: o.socketPath,
    timeoutMs: o.timeoutMs ?? 30_000,
    audience: 'operator',
    decorate: (md) => {
      if (typeof process.getuid === 'function') md.set('x-loki-local-uid', String(process.getuid()));
    },
  });
  return daemon.forCaller(() => ({ requestId: randomUUID() }));
}

/** True when the daemon at `socketPath` answers grpc.health.v1 with SERVING within `timeoutMs`. Never throws. */
export async function adminSocketServing(socketPath: string, timeoutMs: number): Promise<boolean> {
  const daemon = createDaemonClient({ socketPath, timeoutMs, audience: 'operator' });
  try {
    return await daemon.isServing(timeoutMs);
  } finally {
    daemon.close();
  }
}
