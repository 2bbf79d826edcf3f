// Cross-project reads of what sessions recorded: their tasks and the last
// session of a project, asked of the sessions feature's directory (it owns and
// writes them); without that feature there are none.
import { LokiError, TASK_STATUSES, isOneOf } from '../../../common/src/index.js';
import type * as pb from '../../../proto/gen/loki/v1/workspace.js';
import type { SessionDirectory } from '../sessions/repo.js';
import type { Project } from './projects.js';

export async function listTasks(sessions: SessionDirectory | undefined, projects: readonly Project[], q: { status: string; limit: number }): Promise<pb.RegistryTask[]> {
  if (q.status && !isOneOf(TASK_STATUSES, q.status)) throw new LokiError('invalid_argument', `status must be one of ${TASK_STATUSES.join(', ')}`);
  if (!projects.length || !sessions) return [];
  const byId = new Map(projects.map((p) => [p.id, p]));
  const rows = await sessions.tasksOfProjects([...byId.keys()], q);
  return rows.map((r) => ({ ...r, projectName: byId.get(r.projectId)?.name ?? '' }));
}

export async function lastSessionOf(sessions: SessionDirectory | undefined, p: Project): Promise<{ sessionId: string; state: string; result?: string } | undefined> {
  const r = await sessions?.lastOfProject(p.id);
  if (!r) return undefined;
  return { sessionId: r.id, state: r.state, ...(r.state === 'failed' ? { result: 'failed' } : {}) };
}
