// The read side of sessions: the event log replayed and followed, and the
// numbers /metrics shows. Only what the caller may see (owner, `*`, local admin).
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { PolicyService } from '../policy/service.js';
import type { SessionsConfig } from './config.js';
import type { SessionRuntime } from './runtime.js';
import type { SessionRepo } from './repo.js';
import { isTerminal, type Session, type SessionEvent } from './types.js';

export interface EventQuery {
  /** One session, or empty for every session the caller may see. */
  sessionId: string;
  afterSeq: number;
  afterGid: number;
  follow: boolean;
}

export interface SessionMetricsSnapshot {
  /** Non-terminal sessions plus the most recent terminal ones (bounded). */
  sessions: Session[];
  active: number;
  createdTotal: number;
  decisions: { allow: number; deny: number; ask: number };
  approvalsPending: number;
}

export interface SessionQueriesOptions {
  store: SessionRepo;
  rt: SessionRuntime;
  policy: PolicyService;
  config: SessionsConfig;
  /** One session the caller may see (SessionManager.get: unknown and not-yours look the same). */
  get: (caller: Caller, id: string) => Session;
}

export class SessionQueries {
  constructor(private readonly o: SessionQueriesOptions) {}

  /** Replays events after the cursor, then (with follow) streams new ones until the session ends or the caller goes away. */
  async *events(caller: Caller, q: EventQuery, signal: AbortSignal): AsyncGenerator<SessionEvent> {
    const one = q.sessionId ? this.o.get(caller, q.sessionId) : undefined;
    if (!one) requireScope(caller, 'read');
    const owners = new Map<string, string>();
    const visible = (sid: string) => {
      let owner = owners.get(sid);
      if (owner === undefined) owners.set(sid, (owner = this.o.store.get(sid)?.owner ?? ''));
      return canAccessOwned(caller, owner);
    };
    let seq = q.afterSeq;
    let gid = q.afterGid;
    const BATCH = 500;
    while (!signal.aborted) {
      const version = this.o.rt.version;
      const batch = one ? this.o.store.events(one.id, seq, BATCH) : this.o.store.eventsSince(gid, BATCH);
      for (const ev of batch) {
        seq = ev.seq;
        gid = ev.gid;
        if (one || visible(ev.sessionId)) yield ev;
        if (signal.aborted) return;
      }
      if (batch.length === BATCH) continue;
      if (!q.follow) return;
      if (one && isTerminal(this.o.store.get(one.id)!.state)) return;
      await this.o.rt.waitForChange(version, signal, 15_000);
    }
  }

  metrics(caller: Caller): SessionMetricsSnapshot {
    requireScope(caller, 'read');
    const all = this.o.store.list().filter((s) => canAccessOwned(caller, s.owner));
    const active = all.filter((s) => !isTerminal(s.state));
    const recent = all.filter((s) => isTerminal(s.state)).sort((a, b) => b.endedAtMs - a.endedAtMs).slice(0, this.o.config.metrics_recent_terminal);
    const decisions = { allow: 0, deny: 0, ask: 0 };
    for (const s of all) for (const k of ['allow', 'deny', 'ask'] as const) decisions[k] += s.decisions[k];
    const ids = new Set(all.map((s) => s.id));
    const approvalsPending = this.o.policy.listApprovals({ status: 'pending' }).filter((a) => ids.has(a.sessionId)).length;
    return { sessions: [...active, ...recent], active: active.length, createdTotal: all.length, decisions, approvalsPending };
  }
}
