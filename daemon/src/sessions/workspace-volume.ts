// Per-session workspace size limit. After the workspace is cloned, it is moved
// onto its own ext4 file system in a sparse image file of `max_size`
// (`<workspaces>/.images/<session>.img`), loop-mounted at the workspace path.
// The agent then hits ENOSPC at the limit; the host's file system (which also
// holds the store and the audit log) never fills from inside a sandbox. The
// kernel enforces it, at write time, whatever the agent does; no watcher has to
// win a race against `dd`. A warm pool slot makes its volume ahead, empty
// (makeEmptyVolume); the session's workspace is then filled on it in place.
import { execFile } from 'node:child_process';
import { chmodSync, closeSync, existsSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LokiError, formatBytes, type Logger } from '../../../common/src/index.js';

export interface WorkspaceVolumesOptions {
  workspacesDir: string;
  /** The sandbox driver's check that a mount made here reaches its sandboxes (SandboxManager.assertSeesHostMounts); omitted = not checked. */
  checkMountsReachSandboxes?: () => void;
  /** 0 = no limit (workspaces stay plain directories). */
  maxBytes: number;
  enforce: 'auto' | 'mount' | 'watch';
  minFreeBytes: number;
  owner: { uid: number; gid: number };
  log: Logger;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 120_000 }, (err, _out, stderr) => {
      if (err) reject(Object.assign(new Error(`${cmd} failed: ${String(stderr).trim().split('\n').pop() || err.message}`), { cause: err }));
      else resolve();
    });
  });
}


/** Disk space used under `dir` (allocated blocks, no symlinks followed, one file system). */
export function diskUsage(dir: string): number {
  let total = 0;
  let dev: number | undefined;
  const stack = [dir];
  while (stack.length) {
    const p = stack.pop()!;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    dev ??= st.dev;
    if (st.dev !== dev) continue;
    total += st.blocks * 512;
    if (st.isDirectory()) for (const name of readdirSync(p)) stack.push(join(p, name));
  }
  return total;
}

export function isMountPoint(dir: string): boolean {
  try {
    return statSync(dir).dev !== statSync(dirname(dir)).dev;
  } catch {
    return false;
  }
}

/** Disk space used under `dir` by `du` (a child process, so a big tree never blocks the daemon's event loop). */
export function measure(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('du', ['-sxB1', dir], { timeout: 60_000 }, (err, out) => {
      // du exits 1 when a file vanished mid-walk (the agent is busy): its total is still good.
      const n = Number(String(out).split(/\s/)[0]);
      if (Number.isFinite(n) && String(out).trim()) resolve(n);
      else reject(err ?? new Error(`du printed nothing for ${dir}`));
    });
  });
}

/** The image file of a session's size-limited workspace. */
export function volumeImagePath(workspacesDir: string, sessionId: string): string {
  return join(workspacesDir, '.images', `${sessionId}.img`);
}

/** A sparse file of `bytes`: it takes only what is written, up to its size. */
function sparseImage(image: string, bytes: number): void {
  const fd = openSync(image, 'wx', 0o600);
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

async function loopMount(image: string, dir: string, propagation: string[]): Promise<void> {
  try {
    await run('mount', [...propagation, '-o', 'loop,nosuid,nodev', image, dir]);
  } catch (err) {
    throw new LokiError(
      'failed_precondition',
      `cannot mount the size-limited workspace (${(err as Error).message}); the daemon needs root with CAP_SYS_ADMIN in the sandbox engine's mount namespace, or set sessions.workspace.max_size: 0 to run without a limit`,
      { cause: err },
    );
  }
}

/**
 * A workspace volume made ahead (a warm pool slot's): a fresh, empty ext4 file
 * system of `maxBytes` in `image`, loop-mounted on the existing empty `dir` as a
 * shared mount (so a slot started on it sees it, and a bind of it is the same file
 * system). Its root is root-only until the workspace filled on it is handed to the
 * sandbox user. On failure nothing is left mounted and the image is removed.
 */
export async function makeEmptyVolume(image: string, dir: string, maxBytes: number): Promise<void> {
  mkdirSync(dirname(image), { recursive: true, mode: 0o700 });
  sparseImage(image, maxBytes);
  let mounted = false;
  try {
    await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'root_owner=0:0', image]);
    await loopMount(image, dir, ['--make-shared']);
    mounted = true;
    rmdirSync(join(dir, 'lost+found'));
    chmodSync(dir, 0o700);
  } catch (err) {
    if (mounted) await run('umount', [dir]).catch(() => undefined);
    rmSync(image, { force: true });
    throw err;
  }
}

export class WorkspaceVolumes {
  private namespaceChecked = false;
  /** `auto`: decided on the first workspace (mount works here or not). */
  private mountWorks: boolean | undefined;

  constructor(private readonly o: WorkspaceVolumesOptions) {}

  get maxBytes(): number {
    return this.o.maxBytes;
  }

  /** Whether the daemon must watch this workspace's size (it is not on its own size-limited file system). */
  needsWatch(dir: string): boolean {
    return this.o.maxBytes > 0 && !isMountPoint(dir);
  }

  private get imagesDir(): string {
    return join(this.o.workspacesDir, '.images');
  }

  imagePath(sessionId: string): string {
    return volumeImagePath(this.o.workspacesDir, sessionId);
  }

  /**
   * Refuses a new session when a full workspace would leave the state
   * directory's file system with less than `min_free`.
   */
  checkFreeSpace(): void {
    mkdirSync(this.o.workspacesDir, { recursive: true, mode: 0o700 });
    const st = statfsSync(this.o.workspacesDir);
    const free = st.bavail * st.bsize;
    const need = this.o.minFreeBytes + this.o.maxBytes;
    if (free < need) {
      throw new LokiError(
        'resource_exhausted',
        `not enough free disk space for a new session: ${formatBytes(free)} free under ${this.o.workspacesDir}, a session needs ${formatBytes(need)} ` +
          `(sessions.workspace.max_size ${formatBytes(this.o.maxBytes)} + sessions.workspace.min_free ${formatBytes(this.o.minFreeBytes)}); remove old workspaces with \`loki sessions prune\``,
      );
    }
  }

  /**
   * Puts the workspace under the limit: `mount` (its own file system) or
   * `watch` (the session manager measures it). Returns which, or `none`.
   */
  async limit(sessionId: string, dir: string): Promise<'mount' | 'watch' | 'none'> {
    if (!this.o.maxBytes) return 'none';
    // Filled in place on a volume made ahead (a warm pool slot's, of this same max_size).
    if (isMountPoint(dir) && existsSync(this.imagePath(sessionId))) return 'mount';
    if (this.o.enforce === 'watch' || this.mountWorks === false) return 'watch';
    try {
      await this.mount(sessionId, dir);
      this.mountWorks = true;
      return 'mount';
    } catch (err) {
      if (this.o.enforce === 'mount' || !(err instanceof LokiError) || err.kind !== 'failed_precondition') throw err;
      this.mountWorks = false;
      this.o.log.warn({ reason: err.message }, 'workspace size limit: cannot mount a size-limited file system here; the daemon watches workspace sizes instead (sessions.workspace.enforce)');
      return 'watch';
    }
  }

  private async mount(sessionId: string, dir: string): Promise<void> {
    if (!this.namespaceChecked) {
      if (process.getuid?.() !== 0) throw new LokiError('failed_precondition', 'a size-limited workspace mount needs lokid to run as root');
      this.o.checkMountsReachSandboxes?.();
      this.namespaceChecked = true;
    }
    const image = this.imagePath(sessionId);
    const clone = `${dir}.clone`;
    mkdirSync(this.imagesDir, { recursive: true, mode: 0o700 });
    renameSync(dir, clone);
    mkdirSync(dir, { mode: 0o700 });
    let mounted = false;
    try {
      sparseImage(image, this.o.maxBytes);
      const { uid, gid } = this.o.owner;
      try {
        await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', `root_owner=${uid}:${gid}`, '-d', clone, image]);
      } catch (err) {
        throw new LokiError('resource_exhausted', `the project checkout does not fit in sessions.workspace.max_size (${formatBytes(this.o.maxBytes)}): ${(err as Error).message}`, { cause: err });
      }
      await loopMount(image, dir, []);
      mounted = true;
      rmdirSync(join(dir, 'lost+found'));
      rmSync(clone, { recursive: true, force: true });
      this.o.log.info({ session_id: sessionId, max_bytes: this.o.maxBytes }, 'workspace size limit mounted');
    } catch (err) {
      if (mounted) await run('umount', [dir]).catch(() => undefined);
      rmSync(image, { force: true });
      rmSync(dir, { recursive: true, force: true });
      renameSync(clone, dir);
      throw err;
    }
  }

  /**
   * A mount cut off by a daemon crash left the checkout moved aside to `<dir>.clone`: finished when the
   * file system was mounted (the copy in it is whole, mkfs wrote it), else rolled back as a failed mount
   * is (the checkout back at `dir`, the partial image deleted). Before, the copy stayed next to the
   * workspace for good and the session's branch could not be brought back from the empty directory.
   */
  recoverInterruptedMount(sessionId: string, dir: string): void {
    const clone = `${dir}.clone`;
    if (!existsSync(clone)) return;
    if (isMountPoint(dir)) {
      rmSync(join(dir, 'lost+found'), { recursive: true, force: true });
      rmSync(clone, { recursive: true, force: true });
    } else {
      rmSync(this.imagePath(sessionId), { force: true });
      rmSync(dir, { recursive: true, force: true });
      renameSync(clone, dir);
    }
    this.o.log.warn({ session_id: sessionId, mounted: isMountPoint(dir) }, 'recovered a workspace size-limit mount cut off by a restart');
  }

  /** Unmounts the workspace and deletes its image; returns the disk space that frees (the caller removes the directory). */
  async release(sessionId: string, dir: string): Promise<number> {
    const image = this.imagePath(sessionId);
    let freed = 0;
    if (isMountPoint(dir)) {
      freed = existsSync(image) ? statSync(image).blocks * 512 : 0;
      try {
        await run('umount', [dir]);
      } catch {
        // Busy (a stray process still inside): detach now, the kernel frees it when the last user goes.
        await run('umount', ['-l', dir]);
      }
    } else {
      freed = existsSync(dir) ? diskUsage(dir) : 0;
      if (existsSync(image)) freed += statSync(image).blocks * 512;
    }
    rmSync(image, { force: true });
    return freed;
  }
}
