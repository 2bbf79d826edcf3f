// The warm pool's workspace volumes on the host: each slot's volume made ahead,
// and what a crash leaves of them (see pool.ts). Everything here only ever
// touches paths under the pool directory or the workspaces' images directory.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import { volumeImagePath } from '../sessions/workspace-volume.js';
import { mountsAt, run } from './pool-slot.js';

/** One file per reservation not yet claimed: what a crash before the claim leaves to undo. */
export function reservedFile(poolDir: string, sessionId: string): string {
  return join(poolDir, 'reserved', `${sessionId}.json`);
}

/** The image of a slot's volume made ahead, while the slot is unclaimed. */
export function slotImagePath(workspacesDir: string, slotDir: string): string {
  return volumeImagePath(workspacesDir, `pool-${slotDir.slice(dirname(slotDir).length + 1)}`);
}

/** Lazy: a bind may still hold a busy workspace; the kernel detaches it when free (and frees its loop device). */
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
