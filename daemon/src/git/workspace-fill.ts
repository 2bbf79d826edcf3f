// How a session workspace's repository is made: a clone of the project's base
// branch (cloneWorkspace, what WorkspaceManager does by default), or — for a warm
// pool slot, whose size-limited volume was made ahead and is mounted empty — a
// copy of a seed (WorkspaceSeeds): a workspace of the same project at the same
// base commit, made once by the same clone and kept daemon-private. A copy is
// in-process file I/O from the seed's list of entries; a clone is five git
// processes, which on a loaded host cost most of a warm start.
import { randomBytes } from 'node:crypto';
import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { copyFile, lstat, readdir, readlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { assertStillRegisteredPath, runGit, uploadPackAsOwner } from './runner.js';

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
  // Trusting the registered project path (it may belong to another user) is the registration's point;
  // a link put in its place since is not that path.
  assertStillRegisteredPath(t.projectPath);
  // Another user's repository is read by its owner (upload-pack), never by root: see uploadPackAsOwner.
  const uploadPack = uploadPackAsOwner(t.projectPath);
  await runGit(
    ['clone', '--quiet', '--no-local', '--no-hardlinks', '--no-checkout', '--single-branch', '--no-tags', '--branch', t.baseBranch, ...(uploadPack ? ['--upload-pack', uploadPack] : []), '--', t.projectPath, t.dest],
    uploadPack ? {} : { safeDirectories: [t.projectPath, join(t.projectPath, '.git')] },
  );
  await runGit(['checkout', '--quiet', ...checkout, t.baseCommit], { cwd: t.dest }).catch((err: unknown) => {
    throw new LokiError('conflict', `base branch "${t.baseBranch}" moved while the workspace was cloned; retry`, { cause: err });
  });
  // The agent must not know, or be able to push to, the host path of the project.
  await runGit(['remote', 'remove', 'origin'], { cwd: t.dest });
  await runGit(['config', 'user.name', 'Loki Agent'], { cwd: t.dest });
  await runGit(['config', 'user.email', 'agent@loki.invalid'], { cwd: t.dest });
}

/** One entry of a seed, in walk order (a directory before what is in it); `path` relative to the seed. */
interface SeedEntry {
  path: string;
  kind: 'dir' | 'file' | 'link';
  mode: number;
  size: number;
  target?: string;
}

/** A file at least this big is copied through the thread pool, so that no single copy stalls lokid. */
const BIG_FILE_BYTES = 1024 * 1024;
/** Bytes (plus a per-entry share) copied synchronously before lokid's event loop gets a turn. */
const SYNC_BATCH_BYTES = 4 * 1024 * 1024;
const ENTRY_COST_BYTES = 16 * 1024;

/**
 * git's sample hooks (`.git/hooks/*.sample`, copied from its template by every
 * clone): inert — git runs only hooks without the suffix, and lokid runs none in
 * a workspace (it only fetches from it, which runs no hook) — so a fill leaves
 * them out: they were 13 of the ≈ 30 files a small project's fill copied.
 */
const SAMPLE_HOOK_RE = /^\.git\/hooks\/[^/]+\.sample$/;

/** The seed's entries, listed once when it is made (files, directories with their mode, symlinks). */
async function listTree(root: string, rel = '', out: SeedEntry[] = []): Promise<SeedEntry[]> {
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (SAMPLE_HOOK_RE.test(path)) continue;
    const st = await lstat(join(root, path));
    if (e.isDirectory()) {
      out.push({ path, kind: 'dir', mode: st.mode & 0o7777, size: 0 });
      await listTree(root, path, out);
    } else if (e.isSymbolicLink()) {
      out.push({ path, kind: 'link', mode: 0, size: 0, target: await readlink(join(root, path)) });
    } else if (e.isFile()) {
      out.push({ path, kind: 'file', mode: st.mode & 0o7777, size: st.size });
    }
  }
  return out;
}

/**
 * Copies a seed into the existing directory `dst` from its list: no directory
 * read or stat per entry, and small files copied synchronously in batches of a
 * few MiB (the event loop gets a turn between batches) — for a typical project a
 * few hundred microseconds, where a round trip through the thread pool per
 * entry cost a warm start 10–20 ms. Big files go through the thread pool in
 * parallel. copyFile keeps each file's mode, as a clone's checkout sets it.
 */
async function copySeed(src: string, dst: string, entries: readonly SeedEntry[]): Promise<void> {
  const big: Promise<void>[] = [];
  let batch = 0;
  let failed: unknown;
  try {
    for (const e of entries) {
      const to = join(dst, e.path);
      if (e.kind === 'dir') mkdirSync(to, { mode: e.mode });
      else if (e.kind === 'link') symlinkSync(e.target!, to);
      else if (e.size >= BIG_FILE_BYTES) big.push(copyFile(join(src, e.path), to, constants.COPYFILE_EXCL));
      else copyFileSync(join(src, e.path), to, constants.COPYFILE_EXCL);
      batch += e.size + ENTRY_COST_BYTES;
      if (batch >= SYNC_BATCH_BYTES) {
        batch = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
  } catch (err) {
    failed = err;
  }
  // Settled either way: nothing is still writing into dst when the caller undoes it.
  const results = await Promise.allSettled(big);
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed ?? rejected) throw failed ?? rejected!.reason;
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
  /** Each seed's entries, listed when it was made (seeds do not outlive the process: the directory is emptied at start). */
  private readonly lists = new Map<string, SeedEntry[]>();
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
    const entries = this.lists.get(seed);
    if (!entries || !existsSync(seed)) {
      this.buildSoon(t);
      return false;
    }
    this.inUse.set(seed, (this.inUse.get(seed) ?? 0) + 1);
    try {
      await copySeed(seed, t.dest, entries);
    } finally {
      const n = this.inUse.get(seed)! - 1;
      if (n) this.inUse.set(seed, n);
      else this.inUse.delete(seed);
    }
    // What `git checkout -b <branch> <baseCommit>` writes (the seed is files-backend, HEAD detached at the commit).
    const ref = join(t.dest, '.git', 'refs', 'heads', ...t.branch.split('/'));
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, `${t.baseCommit}\n`, { flag: 'wx' });
    writeFileSync(join(t.dest, '.git', 'HEAD'), `ref: refs/heads/${t.branch}\n`);
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
      const entries = await listTree(tmp);
      if (this.closed) return;
      renameSync(tmp, seed);
      this.lists.set(seed, entries);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    // Older commits of this project are not asked for any more (unless a copy from one is under way).
    for (const d of readdirSync(projectDir)) {
      const p = join(projectDir, d);
      if (p !== seed && !d.startsWith('.') && !this.inUse.has(p)) {
        rmSync(p, { recursive: true, force: true });
        this.lists.delete(p);
      }
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

