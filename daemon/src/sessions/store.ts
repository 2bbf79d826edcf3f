// Sessions and their event log in the daemon's SQLite (WAL, synchronous=FULL).
// A transition and the event that announces it are one transaction: once a
// caller sees either, both are on disk and survive SIGKILL.
import { LokiError } from '../../../common/src/index.js';
import { migrate, type Db, type Migration } from '../store/db.js';
import { TASK_STATUSES, type Provider, type Session, type SessionEvent, type SessionState, type TaskStatus } from './types.js';

export const SESSION_MIGRATIONS: readonly Migration[] = [
  {
    module: 'sessions',
    version: 1,
    sql: `CREATE TABLE sessions (
      id TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      state TEXT NOT NULL,
      provider TEXT NOT NULL,
      profile TEXT NOT NULL,
      autonomy TEXT NOT NULL,
      project_id TEXT NOT NULL,
      prompt_source TEXT NOT NULL,
      prompt TEXT NOT NULL,
      plan_json TEXT NOT NULL,
      model TEXT NOT NULL,
      base_url TEXT NOT NULL,
      max_iterations INTEGER NOT NULL,
      network INTEGER NOT NULL DEFAULT 0,
      sandbox_id TEXT NOT NULL DEFAULT '',
      workspace TEXT NOT NULL DEFAULT '',
      branch TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      started_at INTEGER NOT NULL DEFAULT 0,
      ended_at INTEGER NOT NULL DEFAULT 0,
      last_event_at INTEGER NOT NULL DEFAULT 0,
      iteration INTEGER NOT NULL DEFAULT 0,
      agents_active INTEGER NOT NULL DEFAULT 0,
      agents_total INTEGER NOT NULL DEFAULT 0,
      cost_usd REAL NOT NULL DEFAULT 0,
      input_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      events_total INTEGER NOT NULL DEFAULT 0,
      stop_requested INTEGER NOT NULL DEFAULT 0,
      reason TEXT NOT NULL DEFAULT '',
      decisions_allow INTEGER NOT NULL DEFAULT 0,
      decisions_deny INTEGER NOT NULL DEFAULT 0,
      decisions_ask INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_state ON sessions (state);
    CREATE TABLE session_events (
      gid INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL REFERENCES sessions(id),
      seq INTEGER NOT NULL,
      time_ms INTEGER NOT NULL,
      type TEXT NOT NULL,
      message TEXT NOT NULL,
      data_json TEXT NOT NULL,
      UNIQUE (session_id, seq)
    );
    CREATE TABLE session_tasks (
      session_id TEXT NOT NULL REFERENCES sessions(id),
      task_id TEXT NOT NULL,
      status TEXT NOT NULL,
      PRIMARY KEY (session_id, task_id)
    );
    CREATE TABLE session_task_reached (
      session_id TEXT NOT NULL REFERENCES sessions(id),
      status TEXT NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (session_id, status)
    );
    CREATE TABLE session_agents (
      session_id TEXT NOT NULL REFERENCES sessions(id),
      agent TEXT NOT NULL,
      PRIMARY KEY (session_id, agent)
    );`,
  },
  {
    module: 'sessions',
    version: 2,
    // upstream: the model upstream's name (its key is looked up in config, never stored).
    sql: `ALTER TABLE sessions ADD COLUMN upstream TEXT NOT NULL DEFAULT '';
    ALTER TABLE sessions ADD COLUMN workspace_removed_at INTEGER NOT NULL DEFAULT 0;`,
  },
];

export interface NewSession {
  id: string;
  owner: string;
  provider: Provider;
  profile: string;
  autonomy: string;
  projectId: string;
  promptSource: string;
  prompt: string;
  planJson: string;
  model: string;
  baseUrl: string;
  upstream: string;
  maxIterations: number;
  network: boolean;
}

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

/** Mutable counters the manager updates from runner reports. */
export interface CounterUpdate {
  iteration?: number;
  addCostUsd?: number;
  addInputTokens?: number;
  addOutputTokens?: number;
  decision?: 'allow' | 'deny' | 'ask';
}

export class SessionStore {
  constructor(private readonly db: Db, private readonly clock: () => number = Date.now) {
    migrate(db, SESSION_MIGRATIONS);
  }

  insert(s: NewSession): Session {
    const now = this.clock();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO sessions (id, owner, state, provider, profile, autonomy, project_id, prompt_source, prompt, plan_json, model, base_url, upstream, max_iterations, network, created_at, last_event_at)
           VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.id, s.owner, s.provider, s.profile, s.autonomy, s.projectId, s.promptSource, s.prompt, s.planJson, s.model, s.baseUrl, s.upstream, s.maxIterations, s.network ? 1 : 0, now, now);
      this.appendInTx(s.id, 'state', 'session created', { state: 'pending', provider: s.provider, profile: s.profile, autonomy: s.autonomy, owner: s.owner });
    })();
    return this.get(s.id)!;
  }

  get(id: string): Session | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE id = ?`).get(id) as Row | undefined;
    return r ? this.toSession(r) : undefined;
  }

  list(): Session[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM sessions ORDER BY created_at, id`).all() as Row[]).map((r) => this.toSession(r));
  }

  listByStates(states: readonly SessionState[]): Session[] {
    const q = `SELECT ${COLUMNS} FROM sessions WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY created_at, id`;
    return (this.db.prepare(q).all(...states) as Row[]).map((r) => this.toSession(r));
  }

  brief(id: string): { prompt: string; planJson: string } {
    const r = this.db.prepare('SELECT prompt, plan_json FROM sessions WHERE id = ?').get(id) as { prompt: string; plan_json: string } | undefined;
    if (!r) throw new LokiError('session_not_found', `no session "${id}"`);
    return { prompt: r.prompt, planJson: r.plan_json };
  }

  countCreated(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n;
  }

  /**
   * Moves a session to `to` if it is currently in one of `from`, and appends the
   * `state` event, atomically. Returns the event, or undefined when the session
   * was not in `from` (someone else moved it first).
   */
  transition(id: string, from: readonly SessionState[], to: SessionState, message: string, extra: { reason?: string; data?: Record<string, unknown> } = {}): SessionEvent | undefined {
    return this.db.transaction(() => {
      const cur = this.db.prepare('SELECT state FROM sessions WHERE id = ?').get(id) as { state: SessionState } | undefined;
      if (!cur || !from.includes(cur.state)) return undefined;
      const now = this.clock();
      const terminal = to === 'completed' || to === 'failed' || to === 'stopped';
      this.db
        .prepare(
          `UPDATE sessions SET state = ?, reason = CASE WHEN ? <> '' THEN ? ELSE reason END,
             started_at = CASE WHEN ? = 'running' AND started_at = 0 THEN ? ELSE started_at END,
             ended_at = CASE WHEN ? THEN ? ELSE ended_at END,
             agents_active = CASE WHEN ? THEN 0 ELSE agents_active END
           WHERE id = ?`,
        )
        .run(to, extra.reason ?? '', extra.reason ?? '', to, now, terminal ? 1 : 0, now, terminal ? 1 : 0, id);
      return this.appendInTx(id, 'state', message, { from: cur.state, state: to, ...(extra.reason ? { reason: extra.reason } : {}), ...extra.data });
    })();
  }

  setRuntime(id: string, f: { sandboxId?: string; workspace?: string; branch?: string }): void {
    const s = this.get(id);
    if (!s) return;
    this.db
      .prepare('UPDATE sessions SET sandbox_id = ?, workspace = ?, branch = ? WHERE id = ?')
      .run(f.sandboxId ?? s.sandboxId, f.workspace ?? s.workspace, f.branch ?? s.branch, id);
  }

  markWorkspaceRemoved(id: string): void {
    this.db.prepare('UPDATE sessions SET workspace_removed_at = ? WHERE id = ? AND workspace_removed_at = 0').run(this.clock(), id);
  }

  requestStop(id: string): void {
    this.db.prepare('UPDATE sessions SET stop_requested = 1 WHERE id = ?').run(id);
  }

  append(id: string, type: string, message: string, data: Record<string, unknown> = {}, counters: CounterUpdate = {}): SessionEvent {
    return this.db.transaction(() => {
      this.applyCounters(id, counters);
      return this.appendInTx(id, type, message, data);
    })();
  }

  /** Counters without an event (heartbeats do not count as activity for stall detection). */
  updateCounters(id: string, counters: CounterUpdate): void {
    this.applyCounters(id, counters);
  }

  hasTask(id: string, taskId: string): boolean {
    return this.db.prepare('SELECT 1 FROM session_tasks WHERE session_id = ? AND task_id = ?').get(id, taskId.slice(0, 128)) !== undefined;
  }

  /** Distinct tasks of a session (the per-session quota counts these). */
  taskCount(id: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM session_tasks WHERE session_id = ?').get(id) as { n: number }).n;
  }

  /** Creates or updates a task; returns true when it is new. */
  setTask(id: string, taskId: string, status: TaskStatus): boolean {
    const t = taskId.slice(0, 128);
    return this.db.transaction(() => {
      const existed = this.db.prepare('SELECT status FROM session_tasks WHERE session_id = ? AND task_id = ?').get(id, t) as { status: string } | undefined;
      if (existed?.status === status) return false;
      this.db.prepare('INSERT INTO session_tasks (session_id, task_id, status) VALUES (?, ?, ?) ON CONFLICT (session_id, task_id) DO UPDATE SET status = excluded.status').run(id, t, status);
      // Monotonic per status (loki_tasks_total is a counter): how many tasks ever reached it.
      this.db.prepare('INSERT INTO session_task_reached (session_id, status, n) VALUES (?, ?, 1) ON CONFLICT (session_id, status) DO UPDATE SET n = n + 1').run(id, status);
      return !existed;
    })();
  }

  /** Records an agent as seen; returns true the first time. */
  addAgent(id: string, agent: string): boolean {
    const r = this.db.prepare('INSERT OR IGNORE INTO session_agents (session_id, agent) VALUES (?, ?)').run(id, agent.slice(0, 64));
    if (r.changes) this.db.prepare('UPDATE sessions SET agents_total = agents_total + 1, agents_active = 1 WHERE id = ?').run(id);
    return r.changes > 0;
  }

  /** Events of one session with seq > afterSeq, oldest first. */
  events(id: string, afterSeq: number, limit: number): SessionEvent[] {
    return (this.db.prepare('SELECT * FROM session_events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(id, afterSeq, limit) as EventRow[]).map(toEvent);
  }

  /** Events of all sessions with gid > afterGid, oldest first. */
  eventsSince(afterGid: number, limit: number): SessionEvent[] {
    return (this.db.prepare('SELECT * FROM session_events WHERE gid > ? ORDER BY gid LIMIT ?').all(afterGid, limit) as EventRow[]).map(toEvent);
  }

  private applyCounters(id: string, c: CounterUpdate): void {
    if (c.iteration !== undefined) this.db.prepare('UPDATE sessions SET iteration = MAX(iteration, ?) WHERE id = ?').run(Math.max(0, Math.floor(c.iteration)), id);
    if (c.addCostUsd || c.addInputTokens || c.addOutputTokens) {
      this.db
        .prepare('UPDATE sessions SET cost_usd = cost_usd + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ? WHERE id = ?')
        .run(c.addCostUsd ?? 0, c.addInputTokens ?? 0, c.addOutputTokens ?? 0, id);
    }
    if (c.decision) this.db.prepare(`UPDATE sessions SET decisions_${c.decision} = decisions_${c.decision} + 1 WHERE id = ?`).run(id);
  }

  private appendInTx(id: string, type: string, message: string, data: Record<string, unknown>): SessionEvent {
    const now = this.clock();
    const r = this.db.prepare('UPDATE sessions SET events_total = events_total + 1, last_event_at = ? WHERE id = ? RETURNING events_total').get(now, id) as { events_total: number } | undefined;
    if (!r) throw new LokiError('session_not_found', `no session "${id}"`);
    let json = JSON.stringify(data);
    if (json.length > MAX_DATA_JSON) json = JSON.stringify({ truncated: true, bytes: json.length });
    const msg = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
    const ins = this.db.prepare('INSERT INTO session_events (session_id, seq, time_ms, type, message, data_json) VALUES (?, ?, ?, ?, ?, ?)').run(id, r.events_total, now, type, msg, json);
    return { sessionId: id, seq: r.events_total, gid: Number(ins.lastInsertRowid), timeMs: now, type, message: msg, data: JSON.parse(json) as Record<string, unknown> };
  }

  private toSession(r: Row): Session {
    const tasks = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const t of this.db.prepare('SELECT status, COUNT(*) AS n FROM session_tasks WHERE session_id = ? GROUP BY status').all(r.id) as { status: TaskStatus; n: number }[]) {
      if (t.status in tasks) tasks[t.status] = t.n;
    }
    const tasksReached = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const t of this.db.prepare('SELECT status, n FROM session_task_reached WHERE session_id = ?').all(r.id) as { status: TaskStatus; n: number }[]) {
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
