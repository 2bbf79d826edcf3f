// In-memory side of the session manager, in parts: the event log (appends and
// transitions through the injected SessionRepo, change notification for
// followers), the per-session timers, approval waits and model proxies.
// Everything here can be rebuilt from the store after a restart; nothing here is
// a source of truth.
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import { startModelProxy, type ModelProxy } from '../agent/model-proxy.js';
import type { AuditLog } from '../audit/types.js';
import type { Caller } from '../authz/caller.js';
import { SessionEventLog } from './event-log.js';
import type { SessionRepo } from './repo.js';
import { SessionTimers } from './timers.js';
import type { ModelUpstreams } from './upstreams.js';
import type { Session } from './types.js';

export interface SessionRuntimeOptions {
  store: SessionRepo;
  emitter: EventEmitter;
  log: Logger;
  clock: () => number;
  audit: AuditLog;
}

export class SessionRuntime {
  /** Appends, transitions and their followers. */
  readonly events: SessionEventLog;
  /** Stop grace and re-arm timers; single-flight ending. */
  readonly timers = new SessionTimers();
  private readonly waits = new Map<string, Set<AbortController>>();
  private readonly proxies = new Map<string, ModelProxy>();

  constructor(private readonly o: SessionRuntimeOptions) {
    this.events = new SessionEventLog({ store: o.store, emitter: o.emitter, log: o.log, clock: o.clock });
  }

  /** The sessions' repository (reads; writes that announce themselves go through `events`). */
  get store(): SessionRepo {
    return this.o.store;
  }

  /** Registers a Decide waiting for a human; the returned controller aborts it (stop). */
  beginWait(id: string): AbortController {
    const ac = new AbortController();
    let set = this.waits.get(id);
    if (!set) this.waits.set(id, (set = new Set()));
    set.add(ac);
    return ac;
  }

  endWait(id: string, ac: AbortController): number {
    const set = this.waits.get(id);
    set?.delete(ac);
    if (set && set.size === 0) this.waits.delete(id);
    return set?.size ?? 0;
  }

  waiting(id: string): number {
    return this.waits.get(id)?.size ?? 0;
  }

  cancelWaits(id: string): void {
    for (const ac of this.waits.get(id) ?? []) ac.abort();
  }

  /**
   * openai and claude sessions reach their model through the host-side proxy
   * on `<agent dir>/model.sock` (mounted at /run/loki-agent/model.sock), with or
   * without sandbox network: the proxy adds the upstream's key, so the sandbox
   * never holds one.
   */
  async openModelProxy(s: Session, agentDir: string, upstreams: ModelUpstreams, owner: { uid: number; gid: number }): Promise<void> {
    if ((s.provider !== 'openai' && s.provider !== 'claude') || !s.baseUrl || this.proxies.has(s.id)) return;
    const u = upstreams.resolve(s.provider, s.upstream, s.baseUrl);
    const proxy = await startModelProxy({
      socketPath: join(agentDir, 'model.sock'),
      upstream: new URL(u.baseUrl),
      kind: s.provider === 'claude' ? 'anthropic' : 'openai',
      apiKey: u.key,
      owner,
      log: this.o.log,
    });
    this.proxies.set(s.id, proxy);
  }

  async closeModelProxy(id: string): Promise<void> {
    const p = this.proxies.get(id);
    this.proxies.delete(id);
    await p?.close().catch(() => undefined);
  }

  async closeAllModelProxies(): Promise<void> {
    await Promise.all([...this.proxies.keys()].map((id) => this.closeModelProxy(id)));
  }

  hasModelProxy(id: string): boolean {
    return this.proxies.has(id);
  }

  /** `caller` undefined = the daemon itself (a session ending on its own). */
  auditAs(caller: Caller | undefined, action: string, sessionId: string, result: 'success' | 'denied' | 'error', details: Record<string, unknown>, reason?: string): Promise<void> {
    return this.o.audit.record({
      action,
      user: caller?.subject ?? 'system',
      resource: `session:${sessionId}`,
      details,
      result,
      ...(caller ? { ip: caller.clientIp, request_id: caller.requestId } : {}),
      ...(reason ? { reason } : {}),
    });
  }

  close(): void {
    this.timers.close();
    for (const set of this.waits.values()) for (const ac of set) ac.abort();
  }
}
