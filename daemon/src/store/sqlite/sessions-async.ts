// SessionRepo on SQLite, the async interface the session feature uses: a thin
// layer over the synchronous core (sessions.ts), one core call per method.
import type { CounterUpdate, DecideState, NewSession, SessionDirectory, SessionPage, SessionPageQuery, SessionRepo, SessionTaskRow, SessionTotals } from '../../sessions/repo.js';
import type { Session, SessionEvent, SessionState, TaskStatus } from '../../sessions/types.js';
import type { Db } from '../db.js';
import { SqliteSessionRows } from './sessions.js';

/**
 * The async SessionRepo over the synchronous core: each method is one call of
 * the core, so each write is still one SQLite transaction, committed before the
 * promise resolves (nothing else runs in between: better-sqlite3 is synchronous).
 */
export class SqliteSessionRepo implements SessionRepo, SessionDirectory {
  readonly rows: SqliteSessionRows;
  constructor(db: Db, clock: () => number = Date.now) {
    this.rows = new SqliteSessionRows(db, clock);
  }
  async insert(s: NewSession, check?: (active: number) => void): Promise<Session> { return this.rows.insert(s, check); }
  async get(id: string): Promise<Session | undefined> { return this.rows.get(id); }
  async list(): Promise<Session[]> { return this.rows.list(); }
  async listByStates(states: readonly SessionState[]): Promise<Session[]> { return this.rows.listByStates(states); }
  async listPage(q: SessionPageQuery): Promise<SessionPage> { return this.rows.listPage(q); }
  async endedWithLeftovers(cutoffMs: number): Promise<Session[]> { return this.rows.endedWithLeftovers(cutoffMs); }
  async brief(id: string): Promise<{ prompt: string; planJson: string }> { return this.rows.brief(id); }
  async countCreated(): Promise<number> { return this.rows.countCreated(); }
  async totals(owner?: string): Promise<SessionTotals> { return this.rows.totals(owner); }
  async recentlyEnded(limit: number, owner?: string): Promise<Session[]> { return this.rows.recentlyEnded(limit, owner); }
  async transition(id: string, from: readonly SessionState[], to: SessionState, message: string, extra?: { reason?: string; data?: Record<string, unknown> }): Promise<SessionEvent | undefined> {
    return this.rows.transition(id, from, to, message, extra);
  }
  async setRuntime(id: string, f: { sandboxId?: string; workspace?: string; branch?: string }): Promise<void> { this.rows.setRuntime(id, f); }
  async markWorkspaceRemoved(id: string): Promise<boolean> { return this.rows.markWorkspaceRemoved(id); }
  async requestStop(id: string): Promise<boolean> { return this.rows.requestStop(id); }
  async append(id: string, type: string, message: string, data?: Record<string, unknown>, counters?: CounterUpdate): Promise<SessionEvent> {
    return this.rows.append(id, type, message, data, counters);
  }
  async updateCounters(id: string, counters: CounterUpdate): Promise<void> { this.rows.updateCounters(id, counters); }
  async lastRunnerSeq(id: string): Promise<number> { return this.rows.lastRunnerSeq(id); }
  async lastDecide(id: string): Promise<DecideState> { return this.rows.lastDecide(id); }
  async hasTask(id: string, taskId: string): Promise<boolean> { return this.rows.hasTask(id, taskId); }
  async taskCount(id: string): Promise<number> { return this.rows.taskCount(id); }
  async setTask(id: string, taskId: string, status: TaskStatus): Promise<boolean> { return this.rows.setTask(id, taskId, status); }
  async addAgent(id: string, agent: string): Promise<boolean> { return this.rows.addAgent(id, agent); }
  async events(id: string, afterSeq: number, limit: number): Promise<SessionEvent[]> { return this.rows.events(id, afterSeq, limit); }
  async eventsSince(afterGid: number, limit: number): Promise<SessionEvent[]> { return this.rows.eventsSince(afterGid, limit); }
  known(sessionId: string): Promise<boolean> { return this.rows.known(sessionId); }
  tasksOfProjects(projectIds: readonly string[], q: { status: string; limit: number }): Promise<SessionTaskRow[]> { return this.rows.tasksOfProjects(projectIds, q); }
  lastOfProject(projectId: string): Promise<{ id: string; state: string; reason: string } | undefined> { return this.rows.lastOfProject(projectId); }
}
