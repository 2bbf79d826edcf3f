// The registry half of WorkspaceService: owner-scoped project listing,
// registration with an alias, discovery, health, sync and tasks across projects.
//
// Visibility: a subject sees the projects it registered, plus those named in
// git.shared_projects (or all, with `*` there); `*` holders and the local admin
// see every project. An invisible project answers project_not_found, exactly
// like a missing one. Registering grants the daemon a host path, so a caller
// without `*` may register only inside git.registry_roots.
import { existsSync, realpathSync } from 'node:fs';
import { LokiError } from '../../../common/src/index.js';
import type * as pb from '../../../proto/gen/loki/v1/workspace.js';
import type { SessionDirectory } from '../sessions/repo.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import { unary, type HandlerContext } from '../grpc/wrap.js';
import type { GitConfig } from './config.js';
import { isInside, projectVisible, type Project, type ProjectRegistry } from './projects.js';
import { DEFAULT_DISCOVER_DEPTH, discoverRepos, projectHealth, realRoot, syncProject } from './registry.js';
import { listTasks, lastSessionOf } from './registry-tasks.js';
import { deleteBranches, findPrunable, type PruneCandidate } from './prune.js';
import { LearningStore, type LearningRepo } from '../registry/learnings.js';
import type { WorkspaceManager } from './workspaces.js';

export interface RegistryHandlerDeps {
  projects: ProjectRegistry;
  workspaces: WorkspaceManager;
  config: GitConfig;
  /** What the session feature answers about its sessions (tasks, last session, prune); absent without it. */
  sessions?: SessionDirectory | undefined;
  learnings: LearningRepo;
  imagePresent?: (() => Promise<boolean>) | undefined;
  /** Checked by `plan`, audited, then done by `effect`: an action the audit log cannot record is refused with nothing changed. */
  auditedPlan: AuditedPlan;
}

/** An action audited between its checks (`plan`) and its effect; `undone` names what the effect left undone. */
export type AuditedPlan = <P, R>(
  caller: Caller,
  action: string,
  resource: string,
  plan: () => Promise<P>,
  details: (p: P) => Record<string, unknown>,
  effect: (p: P) => Promise<R>,
  undone?: (r: R) => string | undefined,
) => Promise<R>;

/** Bytes of branch names one `project.prune` entry holds (the log keeps 8 KiB of details). */
const PRUNE_ENTRY_BYTES = 7 * 1024;

export function isAdmin(caller: Caller): boolean {
  // Nobody's subject is empty, so only the local admin and `*` holders pass.
  return canAccessOwned(caller, '');
}

export function projectToPb(p: Project, shared: boolean): pb.Project {
  return {
    id: p.id,
    name: p.name,
    path: p.path,
    baseBranch: p.baseBranch,
    remote: p.remote ?? '',
    protectedBranches: p.protectedBranches,
    registeredBy: p.registeredBy,
    registeredAtMs: p.registeredAtMs,
    alias: p.alias ?? '',
    shared,
  };
}

export class ProjectAccess {
  constructor(
    private readonly projects: ProjectRegistry,
    private readonly config: GitConfig,
  ) {}

  isShared(p: Project): boolean {
    const s = this.config.shared_projects;
    return s.includes('*') || s.includes(p.name) || s.includes(p.id);
  }

  canSee(caller: Caller, p: Project): boolean {
    return projectVisible(caller, p, this.config.shared_projects);
  }

  async visible(caller: Caller): Promise<Project[]> {
    return (await this.projects.list()).filter((p) => this.canSee(caller, p));
  }

  /** The project if the caller may see it; otherwise the same not-found as a missing one. */
  async get(caller: Caller, ref: string): Promise<Project> {
    if (!ref) throw new LokiError('invalid_argument', 'project is required');
    const p = await this.projects.get(ref);
    if (!this.canSee(caller, p)) throw new LokiError('project_not_found', `no project "${ref}"; register it with \`loki projects register PATH\``);
    return p;
  }

  /** Changing a project (removing it, pruning its branches) is for its registrant or an admin; sharing grants reading only. */
  async own(caller: Caller, ref: string): Promise<Project> {
    const p = await this.get(caller, ref);
    if (!canAccessOwned(caller, p.registeredBy)) throw new LokiError('permission_denied', `project ${p.name} was registered by ${p.registeredBy}; only they or an admin may change it`);
    return p;
  }

  /** Real paths of the configured roots that exist. */
  roots(): string[] {
    return this.config.registry_roots.filter((r) => existsSync(r)).map((r) => realpathSync(r));
  }
}

export function registryHandlers(deps: RegistryHandlerDeps, ctx: HandlerContext) {
  const { projects, workspaces, config, sessions, auditedPlan } = deps;
  const access = new ProjectAccess(projects, config);
  const learnings = new LearningStore(deps.learnings);
  const toPb = (p: Project) => projectToPb(p, access.isShared(p));

  async function register(caller: Caller, req: pb.RegisterProjectRequest): Promise<pb.Project> {
    requireScope(caller, 'control');
    if (!req.path) throw new LokiError('invalid_argument', 'path is required');
    // Audited before it is stored: a registration the audit log cannot record grants nothing.
    let plannedId = '';
    const p = await auditedPlan(
      caller,
      'project.register',
      `project:${req.name || req.path}`,
      async () => {
        const planned = await projects.plan(req.path, {
          registeredBy: caller.subject,
          ...(req.name ? { name: req.name } : {}),
          ...(req.alias ? { alias: req.alias } : {}),
          ...(req.baseBranch ? { baseBranch: req.baseBranch } : {}),
          ...(req.remote ? { remote: req.remote } : {}),
          protectedBranches: req.protectedBranches,
          ...(isAdmin(caller) ? {} : { allowedRoots: access.roots() }),
        });
        // Idempotent for whoever may see it; someone else's repository stays theirs.
        if (!access.canSee(caller, planned.project)) throw new LokiError('project_exists', `${planned.project.path} is already registered by another subject`);
        plannedId = planned.project.id;
        return planned;
      },
      ({ project: r }) => ({ id: r.id, path: r.path, base_branch: r.baseBranch, remote: r.remote, alias: r.alias }),
      (planned) => planned.commit(),
      // Two registrations of one repository at once: both entries were written, one insert won.
      (r) => (r.id !== plannedId ? `registered at the same moment by another request, as ${r.id}` : undefined),
    );
    return toPb(p);
  }

  const handlers = {
    registerProject: unary(ctx, 'WorkspaceService/RegisterProject', async (req: pb.RegisterProjectRequest, caller) => register(caller, req)),
    listProjects: unary(ctx, 'WorkspaceService/ListProjects', async (_req: pb.ListProjectsRequest, caller) => {
      requireScope(caller, 'read');
      return { projects: (await access.visible(caller)).map(toPb) };
    }),
    getProject: unary(ctx, 'WorkspaceService/GetProject', async (req: pb.GetProjectRequest, caller) => {
      requireScope(caller, 'read');
      return toPb(await access.get(caller, req.project));
    }),
    removeProject: unary(ctx, 'WorkspaceService/RemoveProject', async (req: pb.RemoveProjectRequest, caller) => {
      requireScope(caller, 'control');
      if (!req.project) throw new LokiError('invalid_argument', 'project is required');
      // Audited before it is removed: a removal the audit log cannot record changes nothing.
      const p = await auditedPlan(
        caller,
        'project.remove',
        `project:${req.project}`,
        async () => {
          const project = await access.own(caller, req.project);
          const active = (await workspaces.list()).filter((w) => w.projectId === project.id && w.state === 'active');
          if (active.length) {
            throw new LokiError('failed_precondition', `project ${project.name} has ${active.length} active session workspace(s) (${active.map((w) => w.sessionId).slice(0, 5).join(', ')}); stop them first`);
          }
          return project;
        },
        (r) => ({ id: r.id, path: r.path }),
        async (project) => {
          await projects.remove(project.id);
          return project;
        },
      );
      return { project: toPb(p) };
    }),
    discover: unary(ctx, 'WorkspaceService/Discover', async (req: pb.DiscoverRequest, caller) => {
      requireScope(caller, 'control');
      if (req.roots.length > 64) throw new LokiError('invalid_argument', 'at most 64 roots');
      const allowed = access.roots();
      const roots = req.roots.length ? req.roots.map(realRoot) : allowed;
      if (!roots.length) throw new LokiError('invalid_argument', 'no roots given and the daemon has no git.registry_roots configured');
      // Discovery maps the host's directories: outside the configured roots it is an admin act.
      if (!isAdmin(caller)) {
        const outside = roots.find((r) => !allowed.some((a) => isInside(r, a)));
        if (outside) throw new LokiError('permission_denied', `${outside} is outside the registry roots; only an admin may discover there`);
      }
      const found = discoverRepos(roots, req.depth || DEFAULT_DISCOVER_DEPTH);
      const byPath = new Map((await projects.list()).map((p) => [p.path, p]));
      const repos: pb.DiscoveredRepo[] = [];
      for (const r of found.repos) {
        const out: pb.DiscoveredRepo = { path: r.path, root: r.root, projectId: '', projectName: '', error: '' };
        const known = byPath.get(r.path);
        if (known && access.canSee(caller, known)) Object.assign(out, { projectId: known.id, projectName: known.name });
        else if (req.register && !known) {
          try {
            const p = await register(caller, { path: r.path, name: '', baseBranch: '', remote: '', protectedBranches: [], alias: '' });
            Object.assign(out, { projectId: p.id, projectName: p.name });
          } catch (err) {
            out.error = err instanceof LokiError ? err.message : 'could not register';
          }
        }
        repos.push(out);
      }
      return { repos, skippedSymlinks: found.skippedSymlinks.slice(0, 1000), truncated: found.truncated };
    }),
    projectHealth: unary(ctx, 'WorkspaceService/ProjectHealth', async (req: pb.ProjectHealthRequest, caller) => {
      requireScope(caller, 'read');
      const p = await access.get(caller, req.project);
      const h = await projectHealth(p, { lastSession: await lastSessionOf(sessions, p), imagePresent: deps.imagePresent });
      return { project: toPb(p), status: h.status, checks: h.checks };
    }),
    sync: unary(ctx, 'WorkspaceService/Sync', async (req: pb.SyncRequest, caller) => {
      requireScope(caller, 'read');
      const list = req.project ? [await access.get(caller, req.project)] : await access.visible(caller);
      const out: pb.ProjectSync[] = [];
      for (const p of list) {
        const base = { projectId: p.id, projectName: p.name, branches: 0, lastCommit: '', lastCommitSubject: '', lastCommitAtMs: 0, sessionBranches: [] as string[], error: '' };
        try {
          out.push({ ...base, ...(await syncProject(p)) });
        } catch (err) {
          out.push({ ...base, error: err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : 'sync failed' });
        }
      }
      return { projects: out };
    }),
    listTasks: unary(ctx, 'WorkspaceService/ListTasks', async (req: pb.ListTasksRequest, caller) => {
      requireScope(caller, 'read');
      const list = req.project ? [await access.get(caller, req.project)] : await access.visible(caller);
      if (req.limit < 0 || req.limit > 10_000) throw new LokiError('invalid_argument', 'limit must be between 0 and 10000');
      return { tasks: await listTasks(sessions, list, { status: req.status, limit: req.limit || 1000 }) };
    }),
    pruneBranches: unary(ctx, 'WorkspaceService/PruneBranches', async (req: pb.PruneBranchesRequest, caller) => {
      requireScope(caller, 'control');
      // Only what the caller may change: its own projects (admins: all). Shared projects are read-only to others.
      const list = req.project ? [await access.own(caller, req.project)] : (await access.visible(caller)).filter((p) => canAccessOwned(caller, p.registeredBy));
      const all = await workspaces.list();
      const found: Array<{ projectId: string; projectName: string; branches: PruneCandidate[]; error: string }> = [];
      for (const p of list) {
        try {
          found.push({ projectId: p.id, projectName: p.name, branches: await findPrunable(sessions, p, all), error: '' });
        } catch (err) {
          found.push({ projectId: p.id, projectName: p.name, branches: [], error: err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : 'prune failed' });
        }
      }
      if (!req.yes) return { projects: found, dryRun: true };
      const name = (p: (typeof found)[number], b: PruneCandidate) => `${p.projectName}:${b.branch}@${b.commit.slice(0, 12)}`;
      const named = (r: typeof found, which: (b: PruneCandidate) => boolean) => r.flatMap((p) => p.branches.filter(which).map((b) => name(p, b)));
      // One entry names what one prune deletes, within the log's limit on details: a branch past it is
      // kept for the next prune (it used to be deleted unnamed past 200, and past 8 KiB of names the
      // entry was refused, so a project with that many branches could never be pruned).
      let room = PRUNE_ENTRY_BYTES;
      for (const p of found) {
        for (const b of p.branches) {
          const cost = Buffer.byteLength(JSON.stringify(name(p, b))) + 1;
          if (cost <= room) room -= cost;
          else b.error = 'not deleted: more branches than one audit entry names; run prune again';
        }
      }
      const chosen = (b: PruneCandidate) => !b.error;
      // Audited before anything is deleted: the entry names each branch and its commit (what
      // `git branch NAME COMMIT` needs to bring one back), and a deletion it cannot record is not made.
      const projectsOut = await auditedPlan(
        caller,
        'project.prune',
        `project:${req.project || '*'}`,
        async () => found,
        (r) => ({ deleted: named(r, chosen) }),
        async (r) => {
          for (const p of r) {
            const project = list.find((x) => x.id === p.projectId)!;
            const these = p.branches.filter(chosen);
            if (these.length) await deleteBranches(project, these);
          }
          return r;
        },
        (r) => {
          const kept = named(r, (b) => !b.deleted);
          return kept.length ? `${kept.length} branch(es) kept (moved since, could not be deleted, or more than one entry names): ${kept.slice(0, 50).join(', ')}` : undefined;
        },
      );
      return { projects: projectsOut, dryRun: false };
    }),
    listLearnings: unary(ctx, 'WorkspaceService/ListLearnings', async (req: pb.ListLearningsRequest, caller) => {
      requireScope(caller, 'read');
      if (req.limit < 0 || req.limit > 1000) throw new LokiError('invalid_argument', 'limit must be between 0 and 1000');
      if (req.q.length > 1000) throw new LokiError('invalid_argument', 'the query is at most 1000 characters');
      const list = req.project ? [await access.get(caller, req.project)] : await access.visible(caller);
      const names = new Map(list.map((p) => [p.id, p.name]));
      const ids = [...names.keys()];
      const rows = req.q.trim() ? await learnings.search(req.q, ids, req.limit || 50) : await learnings.list(ids, req.limit || 100);
      return {
        learnings: rows.map((l) => ({
          id: l.id,
          sessionId: l.sessionId,
          projectId: l.projectId,
          projectName: names.get(l.projectId) ?? '',
          text: l.text,
          tags: l.tags,
          createdAtMs: l.createdAtMs,
          match: l.match ?? '',
        })),
      };
    }),
  };
  return { access, toPb, handlers };
}
