// The registry methods of the gRPC transport (WorkspaceService): discovery,
// health, sync and tasks across projects, converted to the client's domain types.
import type { Client } from '@grpc/grpc-js';
import type { Learning as PbLearning, ProjectHealthReport, ProjectSync as PbSync, RegistryTask as PbTask } from '../../../proto/gen/loki/v1/workspace.js';
import type { MemoryApi, ProjectsApi, TasksApi } from '../client.js';
import type { HealthStatus, Learning, ProjectSync, RegistryTask, TaskStatus } from '../types.js';
import { iso, toProject } from './convert.js';
import type { Unary } from './daemon-client-wire.js';
import type { Services } from './services.js';

export type Call = <Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, timeoutMs?: number) => Promise<Res>;

const orNull = (s: string): string | null => (s ? s : null);

function toHealth(h: ProjectHealthReport) {
  return {
    project: toProject(h.project!),
    status: h.status as HealthStatus,
    checks: h.checks.map((c) => ({ name: c.name, status: c.status as HealthStatus, detail: c.detail })),
  };
}

function toSync(p: PbSync): ProjectSync {
  return {
    project_id: p.projectId,
    project_name: p.projectName,
    branches: p.branches,
    last_commit: orNull(p.lastCommit),
    last_commit_subject: orNull(p.lastCommitSubject),
    last_commit_at: iso(p.lastCommitAtMs),
    session_branches: [...p.sessionBranches],
    error: orNull(p.error),
  };
}

function toTask(t: PbTask): RegistryTask {
  return {
    session_id: t.sessionId,
    task_id: t.taskId,
    status: t.status as TaskStatus,
    project_id: t.projectId,
    project_name: t.projectName,
    owner: t.owner,
    session_state: t.sessionState,
    session_created_at: iso(t.sessionCreatedAtMs),
  };
}

export function registryProjectMethods(s: Services, call: Call, slowMs: number): Pick<ProjectsApi, 'discover' | 'health' | 'sync' | 'prune'> {
  return {
    async prune(project, o = {}) {
      const r = await call('WorkspaceService/PruneBranches', s.workspace, s.workspace.pruneBranches, { project: project ?? '', yes: o.yes ?? false }, slowMs);
      return {
        dry_run: r.dryRun,
        projects: r.projects.map((p) => ({
          project_id: p.projectId,
          project_name: p.projectName,
          branches: p.branches.map((b) => ({ branch: b.branch, commit: b.commit, reason: b.reason as 'merged' | 'identical' | 'removed_session', deleted: b.deleted, error: orNull(b.error) })),
          error: orNull(p.error),
        })),
      };
    },
    async discover(i = {}) {
      const r = await call('WorkspaceService/Discover', s.workspace, s.workspace.discover, { roots: i.roots ?? [], depth: i.depth ?? 0, register: i.register ?? false }, slowMs);
      return {
        repos: r.repos.map((x) => ({ path: x.path, root: x.root, project_id: orNull(x.projectId), project_name: orNull(x.projectName), error: orNull(x.error) })),
        skipped_symlinks: [...r.skippedSymlinks],
        truncated: r.truncated,
      };
    },
    async health(project) {
      return toHealth(await call('WorkspaceService/ProjectHealth', s.workspace, s.workspace.projectHealth, { project }, slowMs));
    },
    async sync(project) {
      return (await call('WorkspaceService/Sync', s.workspace, s.workspace.sync, { project: project ?? '' }, slowMs)).projects.map(toSync);
    },
  };
}

function toLearning(l: PbLearning): Learning {
  return {
    id: l.id,
    session_id: l.sessionId,
    project_id: l.projectId,
    project_name: l.projectName,
    text: l.text,
    tags: [...l.tags],
    created_at: iso(l.createdAtMs),
    match: l.match === 'phrase' || l.match === 'terms' ? l.match : null,
  };
}

export function memoryMethods(s: Services, call: Call): MemoryApi {
  const query = async (q: string, o: { project?: string; limit?: number }) =>
    (await call('WorkspaceService/ListLearnings', s.workspace, s.workspace.listLearnings, { q, project: o.project ?? '', limit: o.limit ?? 0 })).learnings.map(toLearning);
  return {
    list: (o = {}) => query('', o),
    search: (q, o = {}) => query(q, o),
  };
}

export function tasksMethods(s: Services, call: Call): TasksApi {
  return {
    async list(q = {}) {
      return (await call('WorkspaceService/ListTasks', s.workspace, s.workspace.listTasks, { status: q.status ?? '', project: q.project ?? '', limit: q.limit ?? 0 })).tasks.map(toTask);
    },
  };
}
