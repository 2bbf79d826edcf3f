// Projects: git repositories an operator has allowed the daemon to use. The
// daemon only ever clones from, fetches into and pushes from these paths.
import { randomBytes } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { LokiError, checkRef, checkText, type Logger } from '../../../common/src/index.js';
import { canAccessOwned, type Caller } from '../authz/caller.js';
import { GitCommandError, inRepo, runGit } from './runner.js';
import { validateBranchName, validatePattern, validateProjectName, validateRemoteName } from './refs.js';
import type { ProjectRepo } from './repo.js';

export interface Project {
  id: string;
  name: string;
  /** Real path of the repository's top level. */
  path: string;
  baseBranch: string;
  /** Git remote name in the project repo used for pushes and PRs, or null. */
  remote: string | null;
  /** Extra protected-branch globs for this project (on top of the config's). */
  protectedBranches: string[];
  registeredBy: string;
  registeredAtMs: number;
  alias: string | null;
}

export interface RegisterProjectOptions {
  name?: string;
  alias?: string;
  /** When set, the repository must lie inside one of these real paths (non-admin registration). */
  allowedRoots?: readonly string[];
  baseBranch?: string;
  /** Remote name; default `origin` when the repo has one. */
  remote?: string;
  protectedBranches?: string[];
  registeredBy: string;
}

/** A registration checked but not stored yet (ProjectRegistry.plan). */
export interface PlannedProject {
  project: Project;
  /** The repository is already registered as `project`: nothing to store. */
  stored: boolean;
  /** Stores it; a concurrent registration of the same repository answers with that one. */
  commit(): Promise<Project>;
}

export interface ProjectRegistryOptions {
  repo: ProjectRepo;
  log: Logger;
  clock?: () => number;
}

export class ProjectRegistry {
  private readonly repo: ProjectRepo;
  private readonly log: Logger;
  private readonly clock: () => number;

  constructor(opts: ProjectRegistryOptions) {
    if (!opts.repo || !opts.log) throw new Error('ProjectRegistry needs repo and log');
    this.repo = opts.repo;
    this.log = opts.log.child({ component: 'projects' });
    this.clock = opts.clock ?? Date.now;
  }

  /**
   * Registers the repository at `path`. Idempotent: registering the same
   * repository again (same or no name/alias) returns the existing project.
   */
  async register(path: string, opts: RegisterProjectOptions): Promise<Project> {
    return (await this.plan(path, opts)).commit();
  }

  /**
   * Every check of a registration, and the project it would store, without storing it (so that
   * the registration can be audited first). `stored`: the repository is already this project.
   */
  async plan(path: string, opts: RegisterProjectOptions): Promise<PlannedProject> {
    const top = await resolveRepoTopLevel(path);
    if (opts.allowedRoots && !opts.allowedRoots.some((r) => isInside(top, r))) {
      throw new LokiError(
        'permission_denied',
        opts.allowedRoots.length
          ? `${top} is outside the registry roots (${opts.allowedRoots.join(', ')}); only an admin may register it`
          : 'only an admin may register a project: the daemon has no git.registry_roots configured',
      );
    }
    if (opts.allowedRoots) await checkStoreInsideRoots(top, opts.allowedRoots);
    const name = validateProjectName(opts.name ?? defaultName(top));
    const alias = opts.alias === undefined || opts.alias === '' ? null : validateProjectName(opts.alias);
    if (alias === name) throw new LokiError('invalid_argument', `alias "${alias}" is the project's name`);
    const patterns = (opts.protectedBranches ?? []).map(validatePattern);
    const baseBranch = opts.baseBranch ?? (await currentBranch(top));
    await validateBranchName(baseBranch, 'base branch');
    if (!(await refExists(top, `refs/heads/${baseBranch}`))) {
      throw new LokiError('base_branch_missing', `base branch "${baseBranch}" does not exist in ${top}`);
    }
    const remotes = (await runGit(['remote'], inRepo(top))).stdout.split('\n').filter(Boolean);
    let remote: string | null = null;
    if (opts.remote !== undefined && opts.remote !== '') {
      remote = validateRemoteName(opts.remote);
      if (!remotes.includes(remote)) throw new LokiError('no_remote', `${top} has no git remote named "${remote}"`);
    } else if (remotes.includes('origin')) remote = 'origin';

    const same = (e: Project) => (opts.name === undefined || opts.name === e.name) && (opts.alias === undefined || opts.alias === '' || opts.alias === e.alias);
    const existing = await this.repo.byPath(top);
    if (existing && same(existing)) return { project: existing, stored: true, commit: async () => existing };
    const project: Project = {
      id: `prj-${randomBytes(6).toString('hex')}`,
      name,
      path: top,
      baseBranch,
      remote,
      protectedBranches: patterns,
      registeredBy: opts.registeredBy,
      registeredAtMs: this.clock(),
      alias,
    };
    const commit = async (): Promise<Project> => {
      const clash = await this.repo.insertUnlessClash(project);
      if (clash) {
        // A concurrent registration of this repository won the insert: the same answer as registering it again.
        if (clash.path === top && same(clash)) return clash;
        throw new LokiError(
          'project_exists',
          clash.path === top ? `${top} is already registered as project "${clash.name}"` : `a project named "${alias && clash.name !== name ? alias : name}" already exists (${clash.path})`,
        );
      }
      this.log.info({ project: project.id, name, path: top, base: baseBranch }, 'project registered');
      return project;
    };
    return { project, stored: false, commit };
  }

  /** By id (`prj-…`), name or alias. */
  async get(idOrName: string): Promise<Project> {
    const p = await this.repo.find(checkRef('project', idOrName));
    if (!p) throw new LokiError('project_not_found', `no project "${idOrName}"; register it with \`loki projects register PATH\``);
    return p;
  }

  list(): Promise<Project[]> {
    return this.repo.list();
  }

  /** Refused while a session workspace of the project is active (checked in the delete's transaction). */
  async remove(idOrName: string): Promise<void> {
    const p = await this.get(idOrName);
    const active = await this.repo.deleteUnlessActive(p.id);
    // Found above, gone at the delete: another removal did it, not this one.
    if (active === undefined) throw new LokiError('project_not_found', `project ${p.name} was removed meanwhile by another request`);
    if (active) throw new LokiError('failed_precondition', `project ${p.name} has ${active} active session workspace(s); stop them first`);
    this.log.info({ project: p.id }, 'project removed');
  }
}

/** True when `path` is `root` or below it (both real paths). */
export function isInside(path: string, root: string): boolean {
  const r = root.endsWith('/') ? root : `${root}/`;
  return path === root || path.startsWith(r);
}

function defaultName(top: string): string {
  const n = basename(top).toLowerCase().replace(/[^a-z0-9_.-]+/g, '-').replace(/^[^a-z0-9]+/, '');
  return n.slice(0, 63) || 'project';
}

/** Real path of a non-bare repository's top level; `path` itself must be that top level. */
async function resolveRepoTopLevel(path: string): Promise<string> {
  // Quoted in every answer and log line about the project: one line of visible text.
  checkText('path', path, { max: 4096 });
  if (!isAbsolute(path)) throw new LokiError('invalid_argument', `project path must be absolute, got ${JSON.stringify(path)}`);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new LokiError('not_a_git_repo', `${path} does not exist`);
  }
  if (!statSync(real).isDirectory()) throw new LokiError('not_a_git_repo', `${path} is not a directory`);
  let bare: string;
  try {
    bare = (await runGit(['rev-parse', '--is-bare-repository'], inRepo(real))).stdout.trim();
  } catch (err) {
    if (err instanceof GitCommandError) {
      const why = /dubious ownership/.test(err.stderr) ? ' (owned by another user)' : '';
      throw new LokiError('not_a_git_repo', `${path} is not a git repository${why}`);
    }
    throw err;
  }
  // Bare repositories are refused: the operator reviews and merges in a working
  // tree, and the agent trail export needs one. Register a clone instead.
  if (bare === 'true') throw new LokiError('not_a_git_repo', `${path} is a bare repository; register a clone with a working tree (and add the bare repo as its remote)`);
  const top = (await runGit(['rev-parse', '--show-toplevel'], inRepo(real)).catch(() => undefined))?.stdout.trim();
  if (top === undefined) throw new LokiError('not_a_git_repo', `${path} is a git directory, not a working tree; register the repository's top level`);
  if (!top || realpathSync(top) !== real) {
    throw new LokiError('not_a_git_repo', `${path} is inside the git repository ${top || '?'}; register the repository's top level`);
  }
  return real;
}

/**
 * The repository's objects and refs must lie inside the roots too, not only its working tree: a `.git`
 * gitfile (`gitdir: /elsewhere/.git`), a `.git` symlink, a `commondir` file or an `alternates` list in a
 * working tree inside a root would otherwise hand a non-admin the daemon's access to a repository outside
 * them (its code cloned into their sessions, their session branches written into it).
 */
async function checkStoreInsideRoots(top: string, roots: readonly string[]): Promise<void> {
  const out = (await runGit(['rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir'], inRepo(top))).stdout.split('\n');
  const outside = (p: string) => !roots.some((r) => isInside(p, r));
  for (const dir of out.slice(0, 2)) {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      throw new LokiError('not_a_git_repo', `${top}: cannot resolve its git directory ${dir}`);
    }
    if (outside(real)) {
      throw new LokiError('permission_denied', `${top} keeps its git data in ${real}, outside the registry roots (${roots.join(', ')}); only an admin may register it`);
    }
  }
  const alternates = join(realpathSync(out[1]!), 'objects', 'info', 'alternates');
  if (existsSync(alternates)) {
    throw new LokiError('permission_denied', `${top} borrows objects from other repositories (${alternates}); only an admin may register it`);
  }
}

async function currentBranch(top: string): Promise<string> {
  const r = await runGit(['symbolic-ref', '--quiet', '--short', 'HEAD'], inRepo(top, { okExitCodes: [1] }));
  const b = r.stdout.trim();
  if (r.exitCode !== 0 || !b) throw new LokiError('base_branch_missing', `HEAD of ${top} is detached; pass a base branch (--base)`);
  return b;
}

export async function refExists(repo: string, ref: string): Promise<boolean> {
  const r = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], inRepo(repo, { okExitCodes: [1] }));
  return r.exitCode === 0;
}

/**
 * Who may see (and start sessions on) a project: its registrant, `*` holders and the local admin,
 * and everyone for a project named in git.shared_projects (or all of them, with `*` there).
 */
export function projectVisible(caller: Caller, p: Project, shared: readonly string[]): boolean {
  return canAccessOwned(caller, p.registeredBy) || shared.includes('*') || shared.includes(p.name) || shared.includes(p.id);
}
