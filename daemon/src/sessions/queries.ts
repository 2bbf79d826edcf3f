// The read side of sessions: the event log replayed and followed, and the
// numbers /metrics shows, pages of the session list. Only what the caller may see
// (owner, `*`, local admin).
import { LokiError } from '../../../common/src/index.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { PolicyService } from '../policy/service.js';
import type { SessionsConfig } from './config.js';
import type { SessionRuntime } from './runtime.js';
import type { SessionCursor, SessionRepo } from './repo.js';
import { ACTIVE_STATES, isTerminal, type Session, type SessionEvent } from './types.js';

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

export const MAX_PAGE_SIZE = 500;

export interface ListPageQuery {
  /** Include ended sessions. */
  all: boolean;
  /** 1..MAX_PAGE_SIZE. */
  pageSize: number;
  /** `nextPageToken` of the previous page; empty = the first page. */
  pageToken: string;
}

// A page token names the last session of the previous page (and which listing it
// belongs to); opaque to clients, checked on the way back in.
const TOKEN_RE = /^v1:([01]):(\d{1,15}):(ses-[0-9a-f]{12})$/;

function encodeToken(all: boolean, c: SessionCursor): string {
  return Buffer.from(`v1:${all ? 1 : 0}:${c.createdAtMs}:${c.id}`).toString('base64url');
}

function decodeToken(all: boolean, token: string): SessionCursor | undefined {
  if (!token) return undefined;
  const m = TOKEN_RE.exec(token.length <= 128 ? Buffer.from(token, 'base64url').toString('utf8') : '');
  if (!m) throw new LokiError('invalid_argument', 'page_token is not a token this daemon issued (pass next_page_token back unchanged)');
  if ((m[1] === '1') !== all) throw new LokiError('invalid_argument', `page_token belongs to a listing ${all ? 'without' : 'with'} all; keep the same filters while paging`);
  return { createdAtMs: Number(m[2]), id: m[3]! };
}

export interface SessionQueriesOptions {
  store: SessionRepo;
  rt: SessionRuntime;
  policy: PolicyService;
  config: SessionsConfig;
  /** One session the caller may see (SessionManager.get: unknown and not-yours look the same). */
  get: (caller: Caller, id: string) => Promise<Session>;
}

export class SessionQueries {
  constructor(private readonly o: SessionQueriesOptions) {}

  /** Replays events after the cursor, then (with follow) streams new ones until the session ends or the caller goes away. */
  async *events(caller: Caller, q: EventQuery, signal: AbortSignal): AsyncGenerator<SessionEvent> {
    const one = q.sessionId ? await this.o.get(caller, q.sessionId) : undefined;
    if (!one) requireScope(caller, 'read');
    const owners = new Map<string, string>();
    const visible = async (sid: string) => {
      let owner = owners.get(sid);
      if (owner === undefined) owners.set(sid, (owner = (await this.o.store.get(sid))?.owner ?? ''));
      return canAccessOwned(caller, owner);
    };
    let seq = q.afterSeq;
    let gid = q.afterGid;
    const BATCH = 500;
    while (!signal.aborted) {
      const version = this.o.rt.events.version;
      const batch = one ? await this.o.store.events(one.id, seq, BATCH) : await this.o.store.eventsSince(gid, BATCH);
      for (const ev of batch) {
        seq = ev.seq;
        gid = ev.gid;
        if (one || (await visible(ev.sessionId))) yield ev;
        if (signal.aborted) return;
      }
      if (batch.length === BATCH) continue;
      if (!q.follow) return;
      if (one && isTerminal((await this.o.store.get(one.id))!.state)) return;
      await this.o.rt.events.waitForChange(version, signal, 15_000);
    }
  }

  /** One page of the sessions the caller may see, oldest first; the filter runs in the store, so a page costs the same at any depth. */
  async listPage(caller: Caller, q: ListPageQuery): Promise<{ sessions: Session[]; nextPageToken: string }> {
    requireScope(caller, 'read');
    if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > MAX_PAGE_SIZE) throw new LokiError('invalid_argument', `page_size must be 1..${MAX_PAGE_SIZE}`);
    const after = decodeToken(q.all, q.pageToken);
    // Nobody's subject is empty: only the local admin and `*` holders see every owner.
    const owner = canAccessOwned(caller, '') ? undefined : caller.subject;
    const page = await this.o.store.listPage({ limit: q.pageSize, ...(owner !== undefined ? { owner } : {}), ...(q.all ? {} : { states: ACTIVE_STATES }), ...(after ? { after } : {}) });
    return { sessions: page.sessions, nextPageToken: page.next ? encodeToken(q.all, page.next) : '' };
  }

  /**
   * What /metrics shows, without loading every session: the active ones (few),
   * the last `metrics_recent_terminal` ended ones, and totals summed in the store.
   */
  async metrics(caller: Caller): Promise<SessionMetricsSnapshot> {
    requireScope(caller, 'read');
    // Nobody's subject is empty: only the local admin and `*` holders see every owner.
    const owner = canAccessOwned(caller, '') ? undefined : caller.subject;
    const active = (await this.o.store.listByStates(ACTIVE_STATES)).filter((s) => owner === undefined || s.owner === owner);
    const recent = await this.o.store.recentlyEnded(this.o.config.metrics_recent_terminal, owner);
    const totals = await this.o.store.totals(owner);
    const pending = await this.o.policy.listApprovals({ status: 'pending' });
    let approvalsPending = 0;
    for (const a of pending) {
      const s = await this.o.store.get(a.sessionId);
      if (s !== undefined && (owner === undefined || s.owner === owner)) approvalsPending++;
    }
    return { sessions: [...active, ...recent], active: active.length, createdTotal: totals.created, decisions: totals.decisions, approvalsPending };
  }
}
