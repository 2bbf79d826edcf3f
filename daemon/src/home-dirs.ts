// lokid's own directories under LOKI_HOME. The store and the audit key, the audit
// log and every session's workspace (the project's source, readable inside its
// own tree) are kept from other host users by these directories alone. A fresh
// home gets them 0700; a home made by hand or by an older version may already
// hold them with wider modes, so an existing one is tightened to 0700 too. One
// that belongs to another user is refused: its owner could read whatever lands
// there, or swap it for a link while the daemon (root) writes through it.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { LokiError, type Logger } from '../../common/src/index.js';

function ownedHere(dir: string): { mode: number } {
  const st = statSync(dir);
  if (!st.isDirectory()) throw new LokiError('invalid_config', `${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new LokiError('invalid_config', `${dir} belongs to uid ${st.uid}, not to lokid (uid ${uid}): another user could read or replace what lokid keeps there; chown it to uid ${uid} or choose another LOKI_HOME`);
  }
  return { mode: st.mode & 0o777 };
}

/** The home itself: made 0700 when missing; an existing one keeps its mode but must be lokid's own. */
export function ensureHome(home: string): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  ownedHere(home);
}

/**
 * A directory only lokid may enter: made 0700 (`create`) or, when it exists, checked to be
 * lokid's own and tightened to 0700 (logged) if group or others had any access.
 */
export function ensurePrivateDir(dir: string, log: Logger, opts: { create: boolean } = { create: true }): void {
  if (opts.create) mkdirSync(dir, { recursive: true, mode: 0o700 });
  let mode: number;
  try {
    ({ mode } = ownedHere(dir));
  } catch (err) {
    if (!opts.create && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (mode & 0o077) {
    chmodSync(dir, 0o700);
    log.warn({ dir, mode: mode.toString(8) }, 'tightened a lokid directory other users could open to 0700');
  }
}
