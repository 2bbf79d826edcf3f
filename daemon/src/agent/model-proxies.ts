// The host-side model proxies of live sessions (model-proxy.ts), at most one per
// session, on `<agent dir>/model.sock`: opened when a session's sandbox starts or
// is re-attached after a restart, closed when the session ends, and all of them
// when the daemon shuts down. Built once by the composition root (daemon.ts).
import { join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import { MODEL_SOCKET_NAME } from './grpc-channels.js';
import { startModelProxy, type ModelProxy } from './model-proxy.js';

/** The one upstream a session's proxy forwards to, with its key (a secret that stays on the host). */
export interface ModelProxyTarget {
  upstream: URL;
  kind: 'openai' | 'anthropic';
  apiKey: string;
}

export interface ModelProxiesOptions {
  /** The sandbox uid:gid: it owns each socket (0600), so only the session's sandbox can connect. */
  owner: { uid: number; gid: number };
  log: Logger;
}

export class ModelProxies {
  private readonly proxies = new Map<string, ModelProxy>();

  constructor(private readonly o: ModelProxiesOptions) {
    if (!o.owner || !o.log) throw new Error('ModelProxies: missing dependency owner or log');
  }

  /** Starts the session's proxy in its agent directory, unless it has one. */
  async open(sessionId: string, agentDir: string, target: ModelProxyTarget): Promise<void> {
    if (this.proxies.has(sessionId)) return;
    const proxy = await startModelProxy({ socketPath: join(agentDir, MODEL_SOCKET_NAME), upstream: target.upstream, kind: target.kind, apiKey: target.apiKey, owner: this.o.owner, log: this.o.log });
    this.proxies.set(sessionId, proxy);
  }

  has(sessionId: string): boolean {
    return this.proxies.has(sessionId);
  }

  async close(sessionId: string): Promise<void> {
    const p = this.proxies.get(sessionId);
    this.proxies.delete(sessionId);
    await p?.close().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.proxies.keys()].map((id) => this.close(id)));
  }
}
