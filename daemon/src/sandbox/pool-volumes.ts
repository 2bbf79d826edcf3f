// The warm pool's workspace volumes on the host: each slot's volume made ahead,
// and what a crash leaves of them (see pool.ts). Everything here only ever
// touches paths under the pool directory, the workspaces' images directory, and
// the paths made for a slot's own future session (removed only while empty).
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import { makeEmptyVolume, volumeImagePath } from '../sessions/workspace-volume.js';
import { mountsAt, run } from './pool-slot.js';

/** One file per reservation not yet claimed: what a crash before the claim leaves to undo. */
export function reservedFile(poolDir: string, sessionId: string): string {
  return join(poolDir, 'reserved', `${sessionId}.json`);
}

/** The session a slot is made for: `ses-<hex>` of its directory `slot-<hex>`. */
export function sessionOf(slotDir: string): string {
  return `ses-${basename(slotDir).slice('slot-'.length)}`;
}

/** A slot container's directory from its workspace label: the session's workspace (with a volume) or `<slot>/workspace`. */
export function slotDirOf(poolDir: string, workspace: string): string | undefined {
  const hex = /^ses-([0-9a-f]{12})$/.exec(basename(workspace))?.[1] ?? /^slot-([0-9a-f]{12})$/.exec(basename(dirname(workspace)))?.[1];
  return hex ? join(poolDir, `slot-${hex}`) : undefined;
}

/**
 * What an unclaimed slot made at its session's paths, while no session put
 * anything there: the agent directory and the workspace volume, each only if
 * empty. A session that took the slot owns them once it opened its channel or
 * filled its workspace (its own clean-up removes them).
 */
export async function freeSessionPaths(agentDir: string, workspace: string | undefined): Promise<void> {
  const rmEmpty = (dir: string) => {
    try {
      rmdirSync(dir);
    } catch {
      // not empty (the session's) or already gone
    }
  };
  rmEmpty(agentDir);
  if (!workspace || !existsSync(workspace) || readdirSync(workspace).length) return;
  await unmountLazily(workspace);
  if (mountsAt(workspace) === 0) rmEmpty(workspace);
}

/** The image of a slot's volume made ahead, while the slot is unclaimed. */
export function slotImagePath(workspacesDir: string, slotDir: string): string {
  return volumeImagePath(workspacesDir, `pool-${slotDir.slice(dirname(slotDir).length + 1)}`);
}

/** Lazy: a bind may still hold a busy workspace; the kernel detaches it when free (and frees its loop device). */
/** Makes a slot's empty workspace volume, mounted at its session's workspace path; on failure nothing of it is left. */
export async function makeSlotVolume(workspacesDir: string, maxBytes: number, slotDir: string, session: string): Promise<string> {
  const image = slotImagePath(workspacesDir, slotDir);
  const dir = join(workspacesDir, session);
  try {
    mkdirSync(workspacesDir, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
    await makeEmptyVolume(image, dir, maxBytes);
    return image;
  } catch (err) {
    if (mountsAt(dir) === 0) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export async function unmountLazily(dir: string): Promise<void> {
  for (let i = 0; i < 4 && mountsAt(dir) > 0; i++) await run('umount', ['-l', dir]).catch(() => undefined);
}

/**
 * At start, after the slot directories are gone: images of volumes made ahead
 * whose slot is gone (a claimed one's image was renamed for its session), and
 * reservations whose claim never came (the daemon died in between). A volume
 * still empty at the session's workspace path (never filled) is unmounted and
 * its image deleted; a filled one is the session's workspace, which the
 * session's own clean-up removes.
 */
export async function sweepVolumes(poolDir: string, workspacesDir: string | undefined, log: Logger): Promise<void> {
  const images = workspacesDir && dirname(volumeImagePath(workspacesDir, 'x'));
  for (const f of images && existsSync(images) ? readdirSync(images) : []) {
    if (/^pool-slot-[0-9a-f]{12}\.img$/.test(f) && !existsSync(join(poolDir, f.slice(5, -4)))) rmSync(join(images!, f), { force: true });
  }
  const dir = join(poolDir, 'reserved');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of readdirSync(dir)) {
    const session = f.slice(0, -5);
    rmSync(join(dir, f), { force: true });
    if (!workspacesDir || !/^ses-[0-9a-f]{12}\.json$/.test(f)) continue;
    const dest = join(workspacesDir, session);
    if (mountsAt(dest) === 0 || existsSync(join(dest, '.git'))) continue;
    await unmountLazily(dest);
    if (mountsAt(dest) > 0) continue;
    rmSync(dest, { recursive: true, force: true });
    rmSync(volumeImagePath(workspacesDir, session), { force: true });
    log.info({ session_id: session }, 'removed a reserved workspace volume an earlier daemon left unfilled');
  }
}
