// SessionRepo on SQLite (WAL, synchronous=FULL). A transition and the event that
// announces it are one transaction: once a caller sees either, both are on disk
// and survive SIGKILL. Also the SessionDirectory other features read through.
// `SqliteSessionRows` is the synchronous core (one method = one transaction);
// `SqliteSessionRepo` is the async interface the feature uses, and exposes the
// core as `rows` for seeding inside a caller's own transaction (benches, tests).
import type { Statement } from 'better-sqlite3';
import { LokiError } from '../../../../common/src/index.js';
import type { CounterUpdate, DecideState, NewSession, SessionDirectory, SessionPage, SessionPageQuery, SessionRepo, SessionTaskRow, SessionTotals } from '../../sessions/repo.js';
import { ACTIVE_STATES, TASK_STATUSES, type Session, type SessionEvent, type SessionState, type TaskStatus } from '../../sessions/types.js';
import type { Db } from '../db.js';
import { LimitedStatements, sqlLimit } from './limited.js';
import { ReadCache } from './read-cache.js';

/** A sessions row: the columns named as in Session keep its types. */
interface Row extends Pick<Session, 'id' | 'owner' | 'state' | 'provider' | 'profile' | 'autonomy'> {
  project_id: string;
  prompt_source: string;
  model: string;
  base_url: string;
  max_iterations: number;
  network: number;
  sandbox_id: string;
  workspace: string;
  branch: string;
  created_at: number;
  started_at: number;
  ended_at: number;
  last_event_at: number;
  iteration: number;
  agents_active: number;
  agents_total: number;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  events_total: number;
  stop_requested: number;
  reason: string;
  decisions_allow: number;
  decisions_deny: number;
  decisions_ask: number;
  upstream: string;
  workspace_removed_at: number;
}

interface EventRow {
  gid: number;
  session_id: string;
  seq: number;
  time_ms: number;
  type: string;
  message: string;
  data_json: string;
}

const COLUMNS = `id, owner, state, provider, profile, autonomy, project_id, prompt_source, model, base_url, max_iterations, network,
  sandbox_id, workspace, branch, created_at, started_at, ended_at, last_event_at, iteration, agents_active, agents_total, cost_usd,
  input_tokens, output_tokens, events_total, stop_requested, reason, decisions_allow, decisions_deny, decisions_ask, upstream, workspace_removed_at`;

/** A keyset page: each walks an index in list order (sessions_created, sessions_owner_created); active sessions are few: the state index finds them, the sort is cheap. */
function pageSql(q: SessionPageQuery, limit: number): string {
  const where = [
    ...(q.states ? [`state IN (${q.states.map(() => '?').join(',')})`] : []),
    ...(q.owner !== undefined ? ['owner = ?'] : []),
    ...(q.after ? ['(created_at, id) > (?, ?)'] : []),
  ];
  return `SELECT ${COLUMNS} FROM sessions${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT ${limit + 1}`;
}

const MAX_MESSAGE = 4096;
const MAX_DATA_JSON = 16 * 1024;

function toEvent(r: EventRow): SessionEvent {
  let data: Record<string, unknown> = {};
  try {
    const v: unknown = JSON.parse(r.data_json);
    if (v && typeof v === 'object' && !Array.isArray(v)) data = v as Record<string, unknown>;
  } catch {
    // stored by us; a bad row shows as empty data rather than breaking a replay
  }
  return { sessionId: r.session_id, seq: r.seq, gid: r.gid, timeMs: r.time_ms, type: r.type, message: r.message, data };
}

const TOTALS = 'COUNT(*) AS n, SUM(decisions_allow) AS allow, SUM(decisions_deny) AS deny, SUM(decisions_ask) AS ask';

const TERMINAL = new Set<SessionState>(['completed', 'failed', 'stopped']);

/** SessionRepo with every method synchronous: what the SQLite core implements. */
export type SyncSessionRepo = { [K in keyof SessionRepo]: (...a: Parameters<SessionRepo[K]>) => Awaited<ReturnType<SessionRepo[K]>> };

export class SqliteSessionRows implements SyncSessionRepo, SessionDirectory {
  private readonly q: Record<
    | 'insert' | 'get' | 'list' | 'brief' | 'count' | 'state' | 'transition' | 'setRuntime' | 'wsRemoved' | 'stop' | 'hasTask' | 'taskCount'
    | 'taskStatus' | 'upsertTask' | 'reached' | 'addAgent' | 'agentSeen' | 'iteration' | 'runnerSeq' | 'runnerStart' | 'lastRunnerSeq' | 'decide' | 'decideAnswer' | 'lastDecide' | 'cost' | 'bump' | 'insertEvent'
    | 'tasksByStatus' | 'reachedOf' | 'leftovers' | 'lastOfProject'
    | 'totals' | 'totalsOwner' | 'active',
    Statement
  >;
  private readonly decision: Record<'allow' | 'deny' | 'ask', Statement>;
  /** Statements with their LIMIT in the SQL, by shape (limited.ts): pages, event batches, recent ends, tasks. */
  private readonly limited: LimitedStatements;
  /** Pages asked again with nothing written meanwhile (see read-cache.ts). */
  private readonly pageCache: ReadCache<SessionPage>;

  constructor(private readonly db: Db, private readonly clock: () => number = Date.now) {
    this.pageCache = new ReadCache(db);
    this.limited = new LimitedStatements(db);
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      insert: p(`INSERT INTO sessions (id, owner, state, provider, profile, autonomy, project_id, prompt_source, prompt, plan_json, model, base_url, upstream, max_iterations, network, created_at, last_event_at)
           VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      get: p(`SELECT ${COLUMNS} FROM sessions WHERE id = ?`),
      list: p(`SELECT ${COLUMNS} FROM sessions ORDER BY created_at, id`),
      brief: p('SELECT prompt, plan_json FROM sessions WHERE id = ?'),
      count: p('SELECT COUNT(*) AS n FROM sessions'),
      active: p(`SELECT COUNT(*) AS n FROM sessions WHERE state IN (${ACTIVE_STATES.map((x) => `'${x}'`).join(', ')})`),
      state: p('SELECT state FROM sessions WHERE id = ?'),
      transition: p(`UPDATE sessions SET state = ?, reason = CASE WHEN ? <> '' THEN ? ELSE reason END,
             started_at = CASE WHEN ? = 'running' AND started_at = 0 THEN ? ELSE started_at END,
             ended_at = CASE WHEN ? THEN ? ELSE ended_at END,
             agents_active = CASE WHEN ? THEN 0 ELSE agents_active END
           WHERE id = ?`),
      setRuntime: p('UPDATE sessions SET sandbox_id = ?, workspace = ?, branch = ? WHERE id = ?'),
      wsRemoved: p('UPDATE sessions SET workspace_removed_at = ? WHERE id = ? AND workspace_removed_at = 0'),
      stop: p('UPDATE sessions SET stop_requested = 1 WHERE id = ? AND stop_requested = 0'),
      hasTask: p('SELECT 1 FROM session_tasks WHERE session_id = ? AND task_id = ?'),
      taskCount: p('SELECT COUNT(*) AS n FROM session_tasks WHERE session_id = ?'),
      taskStatus: p('SELECT status FROM session_tasks WHERE session_id = ? AND task_id = ?'),
      upsertTask: p('INSERT INTO session_tasks (session_id, task_id, status) VALUES (?, ?, ?) ON CONFLICT (session_id, task_id) DO UPDATE SET status = excluded.status'),
      reached: p('INSERT INTO session_task_reached (session_id, status, n) VALUES (?, ?, 1) ON CONFLICT (session_id, status) DO UPDATE SET n = n + 1'),
      addAgent: p('INSERT OR IGNORE INTO session_agents (session_id, agent) VALUES (?, ?)'),
      agentSeen: p('UPDATE sessions SET agents_total = agents_total + 1, agents_active = 1 WHERE id = ?'),
      iteration: p('UPDATE sessions SET iteration = MAX(iteration, ?) WHERE id = ?'),
      runnerSeq: p('UPDATE sessions SET runner_seq = MAX(runner_seq, ?) WHERE id = ?'),
      runnerStart: p(`UPDATE sessions SET runner_gen = runner_gen + 1, runner_seq = 0, decide_seq = 0, decide_hash = '', decide_approval = '', decide_answer = '' WHERE id = ?`),
      lastRunnerSeq: p('SELECT runner_seq FROM sessions WHERE id = ?'),
      // Never back to a lower number: a late write for an earlier Decide does not replace a later one's.
      // Never for an older runner (generation): written after a Hello, it would look like the new runner's.
      decide: p('UPDATE sessions SET decide_seq = ?, decide_hash = ?, decide_approval = ?, decide_answer = ? WHERE id = ? AND decide_seq <= ? AND runner_gen = ?'),
      decideAnswer: p('UPDATE sessions SET decide_answer = ? WHERE id = ? AND decide_seq = ? AND decide_hash = ? AND decide_approval = ? AND runner_gen = ?'),
      lastDecide: p('SELECT runner_gen, decide_seq, decide_hash, decide_approval, decide_answer FROM sessions WHERE id = ?'),
      cost: p('UPDATE sessions SET cost_usd = cost_usd + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ? WHERE id = ?'),
      bump: p('UPDATE sessions SET events_total = events_total + 1, last_event_at = ? WHERE id = ? RETURNING events_total'),
      insertEvent: p('INSERT INTO session_events (session_id, seq, time_ms, type, message, data_json) VALUES (?, ?, ?, ?, ?, ?)'),
      tasksByStatus: p('SELECT status, COUNT(*) AS n FROM session_tasks WHERE session_id = ? GROUP BY status'),
      reachedOf: p('SELECT status, n FROM session_task_reached WHERE session_id = ?'),
      leftovers: p(`SELECT ${COLUMNS} FROM sessions WHERE workspace_removed_at = 0 AND ended_at <= ? AND state IN ('completed', 'failed', 'stopped')
           AND (workspace <> '' OR sandbox_id <> '') ORDER BY created_at, id`),
      lastOfProject: p('SELECT id, state, reason FROM sessions WHERE project_id = ? ORDER BY created_at DESC LIMIT 1'),
      totals: p(`SELECT ${TOTALS} FROM sessions`),
      totalsOwner: p(`SELECT ${TOTALS} FROM sessions WHERE owner = ?`),
    };
    this.decision = {
      allow: p('UPDATE sessions SET decisions_allow = decisions_allow + 1 WHERE id = ?'),
      deny: p('UPDATE sessions SET decisions_deny = decisions_deny + 1 WHERE id = ?'),
      ask: p('UPDATE sessions SET decisions_ask = decisions_ask + 1 WHERE id = ?'),
    };
  }

  insert(s: NewSession, check?: (active: number) => void): Session {
    const now = this.clock();
    this.db.transaction(() => {
      if (check) check((this.q.active.get() as { n: number }).n);
      this.q.insert.run(s.id, s.owner, s.provider, s.profile, s.autonomy, s.projectId, s.promptSource, s.prompt, s.planJson, s.model, s.baseUrl, s.upstream, s.maxIterations, s.network ? 1 : 0, now, now);
      this.appendInTx(s.id, 'state', 'session created', { state: 'pending', provider: s.provider, profile: s.profile, autonomy: s.autonomy, owner: s.owner });
    })();
    return this.get(s.id)!;
  }

  get(id: string): Session | undefined {
    const r = this.q.get.get(id) as Row | undefined;
    return r ? this.toSession(r) : undefined;
  }

  list(): Session[] {
    return (this.q.list.all() as Row[]).map((r) => this.toSession(r));
  }

  listByStates(states: readonly SessionState[]): Session[] {
    const q = `SELECT ${COLUMNS} FROM sessions WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY created_at, id`;
    return (this.db.prepare(q).all(...states) as Row[]).map((r) => this.toSession(r));
  }

  listPage(q: SessionPageQuery): SessionPage {
    const limit = Math.max(1, Math.floor(q.limit));
    if (!Number.isSafeInteger(limit)) throw new LokiError('invalid_argument', 'a page limit must be a whole number');
    const after = q.after ? [q.after.createdAtMs, q.after.id] : [];
    const params = [...(q.states ?? []), ...(q.owner !== undefined ? [q.owner] : []), ...after];
    // The statement's shape (which filters, how many states, the limit) names it; the SQL is written only once per shape.
    const shape = `${q.states ? q.states.length : '-'}:${q.owner !== undefined ? 1 : 0}:${q.after ? 1 : 0}:${limit + 1}`;
    return this.pageCache.get(`${shape}\n${JSON.stringify(params)}`, () => this.readPage(shape, q, params, limit), (p) => p.sessions.length);
  }

  private readPage(shape: string, q: SessionPageQuery, params: readonly unknown[], limit: number): SessionPage {
    const rows = this.limited.get(`page:${shape}`, () => pageSql(q, limit)).all(...params) as Row[];
    // Frozen: a remembered page is handed to every caller that asks for it.
    const sessions = Object.freeze(rows.slice(0, limit).map((r) => this.toSession(r))) as Session[];
    const end = sessions[sessions.length - 1];
    return Object.freeze(rows.length > limit && end ? { sessions, next: { createdAtMs: end.createdAtMs, id: end.id } } : { sessions });
  }

  // The page size is written into the SQL, not bound (limited.ts): a bound LIMIT
  // was ~80 % of an empty page's cost (P1, profiled). A few sizes are in use at a
  // time (100 by default).
  endedWithLeftovers(cutoffMs: number): Session[] {
    return (this.q.leftovers.all(cutoffMs) as Row[]).map((r) => this.toSession(r));
  }

  brief(id: string): { prompt: string; planJson: string } {
    const r = this.q.brief.get(id) as { prompt: string; plan_json: string } | undefined;
    if (!r) throw new LokiError('session_not_found', `no session "${id}"`);
    return { prompt: r.prompt, planJson: r.plan_json };
  }

  countCreated(): number {
    return (this.q.count.get() as { n: number }).n;
  }

  totals(owner?: string): SessionTotals {
    const r = (owner === undefined ? this.q.totals.get() : this.q.totalsOwner.get(owner)) as { n: number; allow: number | null; deny: number | null; ask: number | null };
    return { created: r.n, decisions: { allow: r.allow ?? 0, deny: r.deny ?? 0, ask: r.ask ?? 0 } };
  }

  recentlyEnded(limit: number, owner?: string): Session[] {
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    const lim = sqlLimit(n);
    // Walks sessions_ended from its end (newest first; unended rows have ended_at 0,
    // so they sit at the other end). Named: the planner would take sessions_state and sort every ended row.
    // One owner's: their own index, then a sort of their sessions.
    const rows = (owner === undefined
      ? this.limited.get(`ended:${lim}`, () => `SELECT ${COLUMNS} FROM sessions INDEXED BY sessions_ended WHERE state IN ('completed', 'failed', 'stopped') ORDER BY ended_at DESC, id DESC LIMIT ${lim}`).all()
      : this.limited.get(`endedOwner:${lim}`, () => `SELECT ${COLUMNS} FROM sessions WHERE owner = ? AND state IN ('completed', 'failed', 'stopped') ORDER BY ended_at DESC, id DESC LIMIT ${lim}`).all(owner)) as Row[];
    return rows.map((r) => this.toSession(r));
  }

  transition(id: string, from: readonly SessionState[], to: SessionState, message: string, extra: { reason?: string; data?: Record<string, unknown> } = {}): SessionEvent | undefined {
    return this.db.transaction(() => {
      const cur = this.q.state.get(id) as { state: SessionState } | undefined;
      if (!cur || !from.includes(cur.state)) return undefined;
      const now = this.clock();
      const terminal = TERMINAL.has(to);
      this.q.transition.run(to, extra.reason ?? '', extra.reason ?? '', to, now, terminal ? 1 : 0, now, terminal ? 1 : 0, id);
      return this.appendInTx(id, 'state', message, { from: cur.state, state: to, ...(extra.reason ? { reason: extra.reason } : {}), ...extra.data });
    })();
  }

  setRuntime(id: string, f: { sandboxId?: string; workspace?: string; branch?: string }): void {
    const s = this.get(id);
    if (!s) return;
    this.q.setRuntime.run(f.sandboxId ?? s.sandboxId, f.workspace ?? s.workspace, f.branch ?? s.branch, id);
  }

  markWorkspaceRemoved(id: string): boolean {
    return this.q.wsRemoved.run(this.clock(), id).changes > 0;
  }

  requestStop(id: string): boolean {
    return this.q.stop.run(id).changes > 0;
  }

  append(id: string, type: string, message: string, data: Record<string, unknown> = {}, counters: CounterUpdate = {}): SessionEvent {
    return this.db.transaction(() => {
      this.applyCounters(id, counters);
      return this.appendInTx(id, type, message, data);
    })();
  }

  updateCounters(id: string, counters: CounterUpdate): void {
    this.db.transaction(() => this.applyCounters(id, counters))();
  }

  lastRunnerSeq(id: string): number {
    return (this.q.lastRunnerSeq.get(id) as { runner_seq: number } | undefined)?.runner_seq ?? 0;
  }

  lastDecide(id: string): DecideState {
    const r = this.q.lastDecide.get(id) as { runner_gen: number; decide_seq: number; decide_hash: string; decide_approval: string; decide_answer: string } | undefined;
    if (!r?.decide_seq) return { gen: r?.runner_gen ?? 0 };
    // A record is only ever written in the session's current generation (and a Hello clears it): it is that generation's.
    const answer = r.decide_answer ? { answer: JSON.parse(r.decide_answer) as NonNullable<DecideState['last']>['answer'] } : {};
    return { gen: r.runner_gen, last: { gen: r.runner_gen, seq: r.decide_seq, hash: r.decide_hash, approvalId: r.decide_approval, ...answer } };
  }

  hasTask(id: string, taskId: string): boolean {
    return this.q.hasTask.get(id, taskId.slice(0, 128)) !== undefined;
  }

  taskCount(id: string): number {
    return (this.q.taskCount.get(id) as { n: number }).n;
  }

  setTask(id: string, taskId: string, status: TaskStatus): boolean {
    const t = taskId.slice(0, 128);
    return this.db.transaction(() => {
      const existed = this.q.taskStatus.get(id, t) as { status: string } | undefined;
      if (existed?.status === status) return false;
      this.q.upsertTask.run(id, t, status);
      // Monotonic per status (loki_tasks_total is a counter): how many tasks ever reached it.
      this.q.reached.run(id, status);
      return !existed;
    })();
  }

  addAgent(id: string, agent: string): boolean {
    const r = this.q.addAgent.run(id, agent.slice(0, 64));
    if (r.changes) this.q.agentSeen.run(id);
    return r.changes > 0;
  }

  events(id: string, afterSeq: number, limit: number): SessionEvent[] {
    const lim = sqlLimit(limit);
    return (this.limited.get(`events:${lim}`, () => `SELECT * FROM session_events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ${lim}`).all(id, afterSeq) as EventRow[]).map(toEvent);
  }

  eventsSince(afterGid: number, limit: number): SessionEvent[] {
    const lim = sqlLimit(limit);
    return (this.limited.get(`since:${lim}`, () => `SELECT * FROM session_events WHERE gid > ? ORDER BY gid LIMIT ${lim}`).all(afterGid) as EventRow[]).map(toEvent);
  }

  known(sessionId: string): Promise<boolean> {
    return Promise.resolve(this.q.state.get(sessionId) !== undefined);
  }

  tasksOfProjects(projectIds: readonly string[], q: { status: string; limit: number }): Promise<SessionTaskRow[]> {
    if (!projectIds.length) return Promise.resolve([]);
    const marks = projectIds.map(() => '?').join(', ');
    const lim = sqlLimit(q.limit);
    const rows = this.limited
      .get(
        `tasks:${projectIds.length}:${lim}`,
        () => `SELECT t.session_id, t.task_id, t.status, s.project_id, s.owner, s.state, s.created_at
       FROM session_tasks t JOIN sessions s ON s.id = t.session_id
       WHERE s.project_id IN (${marks}) AND (? = '' OR t.status = ?)
       ORDER BY s.created_at DESC, t.session_id, t.task_id LIMIT ${lim}`,
      )
      .all(...projectIds, q.status, q.status) as { session_id: string; task_id: string; status: string; project_id: string; owner: string; state: string; created_at: number }[];
    return Promise.resolve(
      rows.map((r) => ({ sessionId: r.session_id, taskId: r.task_id, status: r.status, projectId: r.project_id, owner: r.owner, sessionState: r.state, sessionCreatedAtMs: r.created_at })),
    );
  }

  lastOfProject(projectId: string): Promise<{ id: string; state: string; reason: string } | undefined> {
    return Promise.resolve(this.q.lastOfProject.get(projectId) as { id: string; state: string; reason: string } | undefined);
  }

  private applyCounters(id: string, c: CounterUpdate): void {
    if (c.iteration !== undefined) this.q.iteration.run(Math.max(0, Math.floor(c.iteration)), id);
    if (c.addCostUsd || c.addInputTokens || c.addOutputTokens) this.q.cost.run(c.addCostUsd ?? 0, c.addInputTokens ?? 0, c.addOutputTokens ?? 0, id);
    if (c.decision) this.decision[c.decision].run(id);
    if (c.runnerStart) this.q.runnerStart.run(id);
    if (c.runnerSeq) this.q.runnerSeq.run(c.runnerSeq, id);
    if (c.decide) {
      const d = c.decide;
      const answer = d.answer ? JSON.stringify({ decision: d.answer.decision, reason: d.answer.reason, rule: d.answer.rule, approvalId: d.answer.approvalId }) : '';
      if (d.noted) this.q.decideAnswer.run(answer, id, d.seq, d.hash, d.approvalId, d.gen);
      else this.q.decide.run(d.seq, d.hash, d.approvalId, answer, id, d.seq, d.gen);
    }
  }

  private appendInTx(id: string, type: string, message: string, data: Record<string, unknown>): SessionEvent {
    const now = this.clock();
    const r = this.q.bump.get(now, id) as { events_total: number } | undefined;
    if (!r) throw new LokiError('session_not_found', `no session "${id}"`);
    let json = JSON.stringify(data);
    if (json.length > MAX_DATA_JSON) json = JSON.stringify({ truncated: true, bytes: json.length });
    const msg = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
    const ins = this.q.insertEvent.run(id, r.events_total, now, type, msg, json);
    return { sessionId: id, seq: r.events_total, gid: Number(ins.lastInsertRowid), timeMs: now, type, message: msg, data: JSON.parse(json) as Record<string, unknown> };
  }

  private toSession(r: Row): Session {
    const tasks = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const t of this.q.tasksByStatus.all(r.id) as { status: TaskStatus; n: number }[]) {
      if (t.status in tasks) tasks[t.status] = t.n;
    }
    const tasksReached = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const t of this.q.reachedOf.all(r.id) as { status: TaskStatus; n: number }[]) {
      if (t.status in tasksReached) tasksReached[t.status] = t.n;
    }
    return {
      id: r.id,
      owner: r.owner,
      state: r.state,
      provider: r.provider,
      profile: r.profile,
      autonomy: r.autonomy,
      projectId: r.project_id,
      promptSource: r.prompt_source,
      model: r.model,
      baseUrl: r.base_url,
      upstream: r.upstream,
      maxIterations: r.max_iterations,
      network: r.network === 1,
      sandboxId: r.sandbox_id,
      workspace: r.workspace,
      branch: r.branch,
      createdAtMs: r.created_at,
      startedAtMs: r.started_at,
      endedAtMs: r.ended_at,
      lastEventAtMs: r.last_event_at,
      iteration: r.iteration,
      agentsActive: r.agents_active,
      agentsTotal: r.agents_total,
      costUsd: r.cost_usd,
      inputTokens: r.input_tokens,
      outputTokens: r.output_tokens,
      eventsTotal: r.events_total,
      stopRequested: r.stop_requested === 1,
      reason: r.reason,
      tasks,
      tasksReached,
      decisions: { allow: r.decisions_allow, deny: r.decisions_deny, ask: r.decisions_ask },
      workspaceRemovedAtMs: r.workspace_removed_at,
    };
  }
}
