// In-memory side of the session manager: change notification for event
// followers, timers, approval waits, model proxies. Everything here can be
// rebuilt from the store after a restart; nothing here is a source of truth.
import type { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import { startModelProxy, type ModelProxy } from '../agent/model-proxy.js';
import type { AuditLog } from '../audit/types.js';
import type { Caller } from '../authz/caller.js';
import type { ModelUpstreams } from './upstreams.js';
import type { CounterUpdate, SessionRepo } from './repo.js';
import type { Session, SessionEvent, SessionState } from './types.js';

export interface SessionRuntimeOptions {
  store: SessionRepo;
  emitter: EventEmitter;
  log: Logger;
  clock: () => number;
  audit: AuditLog;
}

export class SessionRuntime {
  /** Bumped on every stored event; followers compare it to avoid missing a wake-up. */
  version = 0;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ending = new Map<string, Promise<void>>();
  private readonly waits = new Map<string, Set<AbortController>>();
  private readonly stalledSet = new Set<string>();
  private readonly proxies = new Map<string, ModelProxy>();

  constructor(private readonly o: SessionRuntimeOptions) {
    o.emitter.setMaxListeners(0);
  }

  get store(): SessionRepo {
    return this.o.store;
  }

  notify(): void {
    this.version++;
    this.o.emitter.emit('change');
  }

  append(id: string, type: string, message: string, data: Record<string, unknown> = {}, opts: { counters?: CounterUpdate; markStalled?: boolean } = {}): SessionEvent {
    const ev = this.o.store.append(id, type, message, data, opts.counters ?? {});
    if (opts.markStalled) this.stalledSet.add(id);
    else this.stalledSet.delete(id);
    this.notify();
    return ev;
  }

  transition(id: string, from: readonly SessionState[], to: SessionState, message: string, extra: { reason?: string; data?: Record<string, unknown> } = {}): SessionEvent | undefined {
    const ev = this.o.store.transition(id, from, to, message, extra);
    if (ev) {
      this.stalledSet.delete(id);
      this.o.log.info({ session_id: id, from: ev.data.from, state: to }, 'session state');
      this.notify();
    }
    return ev;
  }

  stalled(id: string): boolean {
    return this.stalledSet.has(id);
  }

  /** Resolves once `version` moves past `seen`, the signal aborts, or `maxMs` passes. */
  waitForChange(seen: number, signal: AbortSignal, maxMs: number): Promise<void> {
    if (this.version !== seen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.o.emitter.off('change', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, maxMs);
      this.o.emitter.on('change', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async waitFor(id: string, pred: (s: Session) => boolean, maxMs: number): Promise<void> {
    const until = this.o.clock() + maxMs;
    const ac = new AbortController();
    while (this.o.clock() < until) {
      const v = this.version;
      const s = this.o.store.get(id);
      if (!s || pred(s)) return;
      await this.waitForChange(v, ac.signal, Math.max(1, until - this.o.clock()));
    }
  }

  schedule(id: string, ms: number, fn: () => void): void {
    if (this.timers.has(id)) return;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    t.unref();
    this.timers.set(id, t);
  }

  /** Runs `fn` at most once per session at a time (ending a session from several places converges here). */
  once(id: string, fn: () => Promise<void>): Promise<void> {
    const running = this.ending.get(id);
    if (running) return running;
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    const p = fn().finally(() => this.ending.delete(id));
    this.ending.set(id, p);
    return p;
  }

  finishing(id: string): boolean {
    return this.ending.has(id);
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
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const set of this.waits.values()) for (const ac of set) ac.abort();
  }
}
