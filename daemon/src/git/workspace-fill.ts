// How a session workspace's repository is made: a clone of the project's base
// branch (cloneWorkspace, what WorkspaceManager does by default), or — for a warm
// pool slot, whose size-limited volume was made ahead and is mounted empty — a
// copy of a seed (WorkspaceSeeds): a workspace of the same project at the same
// base commit, made once by the same clone and kept daemon-private. A copy is
// in-process file I/O; a clone is five git processes, which on a loaded host
// cost most of a warm start.
import { randomBytes } from 'node:crypto';
import { constants, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { runGit } from './runner.js';

/** What a workspace is made of: the project's base branch at a pinned commit, on a new session branch. */
export interface WorkspaceFillTarget {
  projectId: string;
  projectPath: string;
  baseBranch: string;
  baseCommit: string;
  /** The session branch (validated by the caller: `loki/session-…`). */
  branch: string;
  /** The workspace directory: exists and is empty. */
  dest: string;
}

/** Fills a workspace directory made ahead (WorkspaceManager.createWorkspace's `fill`). */
export interface WorkspaceFill {
  /** The workspace directory made ahead (exists, empty, the session's own path): used instead of a new one. */
  dest?: string;
  /** Fills `dest` (an empty directory createWorkspace has claimed); false when the caller must clone into it (still empty). */
  fill(t: WorkspaceFillTarget): Promise<boolean>;
  /** After a failure: `dest` is an ordinary directory again (nothing mounted), which the caller removes. */
  undo(dest: string): Promise<void>;
}

/**
 * A private clone of the project's base branch in `dest` (an absent or empty
 * directory), checked out as `checkout` (`-b <session branch>` or `--detach`)
 * at `baseCommit`, with no remote and the agent's identity.
 */
export async function cloneWorkspace(t: Omit<WorkspaceFillTarget, 'branch' | 'projectId'>, checkout: string[]): Promise<void> {
  // --no-local: objects are copied through the git transport, so nothing in the
  // workspace is a hardlink into (or an alternate of) the project's object store.
  // Trusting the registered project path (it may belong to another user) is the registration's point.
  await runGit(['clone', '--quiet', '--no-local', '--no-hardlinks', '--no-checkout', '--single-branch', '--no-tags', '--branch', t.baseBranch, '--', t.projectPath, t.dest], {
    safeDirectories: [t.projectPath, join(t.projectPath, '.git')],
  });
  await runGit(['checkout', '--quiet', ...checkout, t.baseCommit], { cwd: t.dest }).catch((err: unknown) => {
    throw new LokiError('conflict', `base branch "${t.baseBranch}" moved while the workspace was cloned; retry`, { cause: err });
  });
  // The agent must not know, or be able to push to, the host path of the project.
  await runGit(['remote', 'remove', 'origin'], { cwd: t.dest });
  await runGit(['config', 'user.name', 'Loki Agent'], { cwd: t.dest });
  await runGit(['config', 'user.email', 'agent@loki.invalid'], { cwd: t.dest });
}

/**
 * Copies the tree under `src` into the existing directory `dst`: files (with
 * their mode), directories and symlinks as links, siblings in parallel. fs.cp
 * does the same one entry at a time with several stats each, which on a loaded
 * host costs more than the clone it replaces; cpSync would stall the daemon's
 * event loop for a big project.
 */
async function copyTree(src: string, dst: string): Promise<void> {
  const entries = await readdir(src, { withFileTypes: true });
  await Promise.all(
    entries.map(async (e) => {
      const from = join(src, e.name);
      const to = join(dst, e.name);
      if (e.isDirectory()) {
        await mkdir(to, { mode: (await lstat(from)).mode & 0o7777 });
        await copyTree(from, to);
      } else if (e.isSymbolicLink()) {
        await symlink(await readlink(from), to);
      } else if (e.isFile()) {
        await copyFile(from, to, constants.COPYFILE_EXCL);
      }
    }),
  );
}

export interface WorkspaceSeedsOptions {
  /** Daemon-private (root-only); emptied at start. */
  dir: string;
  log: Logger;
  /** How long after a miss the seed is made (so that it does not compete with the start that missed). */
  buildDelayMs?: number;
}

/**
 * Seeds: per project, one workspace at its base commit, HEAD detached there
 * (`<dir>/<project id>/<commit>`), made by cloneWorkspace exactly as a session's
 * would be, so a copy holds what a clone would and nothing else (only objects
 * reachable from the base branch; no remote; no hardlink or alternate into the
 * project). A commit's objects never change, so a seed is good for as long as
 * the base branch points there; when it moves, the next start misses, clones,
 * and the seed for the new commit is made in the background. A seed is never
 * mounted into a sandbox and never written after it is made.
 */
export class WorkspaceSeeds {
  private readonly building = new Map<string, Promise<void>>();
  /** Seeds being copied from: never removed under a copy. */
  private readonly inUse = new Map<string, number>();
  private closed = false;

  constructor(private readonly o: WorkspaceSeedsOptions) {
    rmSync(o.dir, { recursive: true, force: true });
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  private seedDir(t: Pick<WorkspaceFillTarget, 'projectId' | 'baseCommit'>): string {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(t.projectId) || t.projectId.startsWith('.') || !/^[0-9a-f]{40,64}$/.test(t.baseCommit)) {
      throw new LokiError('invalid_argument', `no seed for project "${t.projectId.slice(0, 64)}" at "${t.baseCommit.slice(0, 64)}"`);
    }
    return join(this.o.dir, t.projectId, t.baseCommit);
  }

  /**
   * Copies the seed of the project at `baseCommit` into `dest` and puts HEAD on
   * the new session branch there; false (dest untouched) when there is no seed
   * yet, which starts making one.
   */
  async fill(t: WorkspaceFillTarget): Promise<boolean> {
    const seed = this.seedDir(t);
    if (!existsSync(seed)) {
      this.buildSoon(t);
      return false;
    }
    this.inUse.set(seed, (this.inUse.get(seed) ?? 0) + 1);
    try {
      await copyTree(seed, t.dest);
    } finally {
      const n = this.inUse.get(seed)! - 1;
      if (n) this.inUse.set(seed, n);
      else this.inUse.delete(seed);
    }
    // What `git checkout -b <branch> <baseCommit>` writes (the seed is files-backend, HEAD detached at the commit).
    const ref = join(t.dest, '.git', 'refs', 'heads', ...t.branch.split('/'));
    await mkdir(dirname(ref), { recursive: true });
    await writeFile(ref, `${t.baseCommit}\n`, { flag: 'wx' });
    await writeFile(join(t.dest, '.git', 'HEAD'), `ref: refs/heads/${t.branch}\n`);
    return true;
  }

  private buildSoon(t: WorkspaceFillTarget): void {
    const seed = this.seedDir(t);
    if (this.closed || this.building.has(seed)) return;
    const p = new Promise<void>((resolve) => setTimeout(resolve, this.o.buildDelayMs ?? 2000).unref())
      .then(() => this.build(t, seed))
      .catch((err: unknown) => this.o.log.warn({ err, project: t.projectId }, 'could not make a workspace seed; warm starts of this project clone'))
      .finally(() => this.building.delete(seed));
    this.building.set(seed, p);
  }

  private async build(t: WorkspaceFillTarget, seed: string): Promise<void> {
    if (this.closed) return;
    const projectDir = dirname(seed);
    mkdirSync(projectDir, { recursive: true, mode: 0o700 });
    const tmp = join(projectDir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await cloneWorkspace({ projectPath: t.projectPath, baseBranch: t.baseBranch, baseCommit: t.baseCommit, dest: tmp }, ['--detach']);
      // The fill writes the session branch as a loose ref: refuse a repository that keeps refs elsewhere.
      const head = readFileSync(join(tmp, '.git', 'HEAD'), 'utf8').trim();
      if (head !== t.baseCommit || !existsSync(join(tmp, '.git', 'refs', 'heads')) || /refstorage/i.test(readFileSync(join(tmp, '.git', 'config'), 'utf8'))) {
        throw new Error(`the seed clone is not a files-backend repository detached at ${t.baseCommit}`);
      }
      if (this.closed) return;
      renameSync(tmp, seed);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    // Older commits of this project are not asked for any more (unless a copy from one is under way).
    for (const d of readdirSync(projectDir)) {
      const p = join(projectDir, d);
      if (p !== seed && !d.startsWith('.') && !this.inUse.has(p)) rmSync(p, { recursive: true, force: true });
    }
    this.o.log.info({ project: t.projectId, commit: t.baseCommit }, 'workspace seed made');
  }

  /** Waits for seeds being made (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.building.values()]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
  }
}

