// Cross-project reads of what sessions recorded: their tasks and the last
// session of a project. Read-only queries on the sessions store's tables (the
// sessions feature owns and writes them); without that feature there are none.
import { LokiError, TASK_STATUSES, isOneOf } from '../../../common/src/index.js';
import type * as pb from '../../../proto/gen/loki/v1/workspace.js';
import type { Db } from '../store/db.js';
import type { Project } from './projects.js';


function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

export function listTasks(db: Db, projects: readonly Project[], q: { status: string; limit: number }): pb.RegistryTask[] {
  if (q.status && !isOneOf(TASK_STATUSES, q.status)) throw new LokiError('invalid_argument', `status must be one of ${TASK_STATUSES.join(', ')}`);
  if (!projects.length || !hasTable(db, 'session_tasks')) return [];
  const byId = new Map(projects.map((p) => [p.id, p]));
  const marks = projects.map(() => '?').join(', ');
  const rows = db
    .prepare(
      `SELECT t.session_id, t.task_id, t.status, s.project_id, s.owner, s.state, s.created_at
       FROM session_tasks t JOIN sessions s ON s.id = t.session_id
       WHERE s.project_id IN (${marks}) AND (? = '' OR t.status = ?)
       ORDER BY s.created_at DESC, t.session_id, t.task_id LIMIT ?`,
    )
    .all(...byId.keys(), q.status, q.status, q.limit) as { session_id: string; task_id: string; status: string; project_id: string; owner: string; state: string; created_at: number }[];
  return rows.map((r) => ({
    sessionId: r.session_id,
    taskId: r.task_id,
    status: r.status,
    projectId: r.project_id,
    projectName: byId.get(r.project_id)?.name ?? '',
    owner: r.owner,
    sessionState: r.state,
    sessionCreatedAtMs: r.created_at,
  }));
}

export function lastSessionOf(db: Db, p: Project): { sessionId: string; state: string; result?: string } | undefined {
  if (!hasTable(db, 'sessions')) return undefined;
  const r = db.prepare('SELECT id, state, reason FROM sessions WHERE project_id = ? ORDER BY created_at DESC LIMIT 1').get(p.id) as { id: string; state: string; reason: string } | undefined;
  if (!r) return undefined;
  return { sessionId: r.id, state: r.state, ...(r.state === 'failed' ? { result: 'failed' } : {}) };
}
