// Projects: git repositories an operator has allowed the daemon to use. The
// daemon only ever clones from, fetches into and pushes from these paths.
import { randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { canAccessOwned, type Caller } from '../authz/caller.js';
import { migrate, type Db, type Migration } from '../store/db.js';
import { GitCommandError, inRepo, runGit } from './runner.js';
import { validateBranchName, validatePattern, validateProjectName, validateRemoteName } from './refs.js';

export const PROJECT_MIGRATIONS: readonly Migration[] = [
  {
    module: 'projects',
    version: 1,
    sql: `CREATE TABLE projects (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      path TEXT NOT NULL UNIQUE,
      base_branch TEXT NOT NULL,
      remote TEXT,
      protected_branches TEXT NOT NULL DEFAULT '[]',
      registered_by TEXT NOT NULL,
      registered_at INTEGER NOT NULL
    )`,
  },
  {
    module: 'projects',
    version: 2,
    // alias: a second name (`loki projects register --alias`), unique across names and aliases.
    sql: `ALTER TABLE projects ADD COLUMN alias TEXT;
    CREATE UNIQUE INDEX projects_alias ON projects (alias) WHERE alias IS NOT NULL;`,
  },
];

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

interface Row {
  id: string;
  name: string;
  path: string;
  base_branch: string;
  remote: string | null;
  protected_branches: string;
  registered_by: string;
  registered_at: number;
  alias: string | null;
}

function toProject(r: Row): Project {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    baseBranch: r.base_branch,
    remote: r.remote,
    protectedBranches: JSON.parse(r.protected_branches) as string[],
    registeredBy: r.registered_by,
    registeredAtMs: r.registered_at,
    alias: r.alias,
  };
}

export interface ProjectRegistryOptions {
  db: Db;
  log: Logger;
  clock?: () => number;
}

export class ProjectRegistry {
  private readonly db: Db;
  private readonly log: Logger;
  private readonly clock: () => number;

  constructor(opts: ProjectRegistryOptions) {
    if (!opts.db || !opts.log) throw new Error('ProjectRegistry needs db and log');
    this.db = opts.db;
    this.log = opts.log.child({ component: 'projects' });
    this.clock = opts.clock ?? Date.now;
    migrate(this.db, PROJECT_MIGRATIONS);
  }

  /** The database the registry lives in (the cross-project queries read it too). */
  get database(): Db {
    return this.db;
  }

  /**
   * Registers the repository at `path`. Idempotent: registering the same
   * repository again (same or no name/alias) returns the existing project.
   */
  async register(path: string, opts: RegisterProjectOptions): Promise<Project> {
    const top = await resolveRepoTopLevel(path);
    if (opts.allowedRoots && !opts.allowedRoots.some((r) => isInside(top, r))) {
      throw new LokiError(
        'permission_denied',
        opts.allowedRoots.length
          ? `${top} is outside the registry roots (${opts.allowedRoots.join(', ')}); only an admin may register it`
          : 'only an admin may register a project: the daemon has no git.registry_roots configured',
      );
    }
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

    const existing = this.db.prepare('SELECT * FROM projects WHERE path = ?').get(top) as Row | undefined;
    if (existing && (opts.name === undefined || opts.name === existing.name) && (opts.alias === undefined || opts.alias === '' || opts.alias === existing.alias)) {
      return toProject(existing);
    }
    const clash = this.db
      .prepare('SELECT name, path FROM projects WHERE name IN (?, ?) OR alias IN (?, ?) OR path = ?')
      .get(name, alias ?? name, name, alias ?? name, top) as Pick<Row, 'name' | 'path'> | undefined;
    if (clash) {
      throw new LokiError(
        'project_exists',
        clash.path === top ? `${top} is already registered as project "${clash.name}"` : `a project named "${alias && clash.name !== name ? alias : name}" already exists (${clash.path})`,
      );
    }
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
    this.db
      .prepare('INSERT INTO projects (id, name, path, base_branch, remote, protected_branches, registered_by, registered_at, alias) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(project.id, name, top, baseBranch, remote, JSON.stringify(patterns), project.registeredBy, project.registeredAtMs, alias);
    this.log.info({ project: project.id, name, path: top, base: baseBranch }, 'project registered');
    return project;
  }

  /** By id (`prj-…`), name or alias. */
  get(idOrName: string): Project {
    const row = this.db.prepare('SELECT * FROM projects WHERE id = ? OR name = ? OR alias = ?').get(idOrName, idOrName, idOrName) as Row | undefined;
    if (!row) throw new LokiError('project_not_found', `no project "${idOrName}"; register it with \`loki projects register PATH\``);
    return toProject(row);
  }

  list(): Project[] {
    return (this.db.prepare('SELECT * FROM projects ORDER BY name').all() as Row[]).map(toProject);
  }

  remove(idOrName: string): void {
    const p = this.get(idOrName);
    this.db.prepare('DELETE FROM projects WHERE id = ?').run(p.id);
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
