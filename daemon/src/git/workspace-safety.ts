// Checks on an agent-controlled workspace before the daemon reads from it, and
// the chown that hands a fresh workspace to the sandbox user.
//
// The daemon never runs git *inside* a workspace once the agent has had it: it
// fetches the one session branch from the workspace's git dir into the project
// repo. That fetch runs git-upload-pack against the workspace, which does read
// the workspace's config; every key there that could execute something is
// overridden on the command line (see runner.ts) and the layout tricks that
// would redirect reads to other host paths are refused here.
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';

// Files that make git read objects or refs from somewhere other than this git dir.
const FORBIDDEN = ['commondir', 'objects/info/alternates', 'objects/info/http-alternates', 'gitdir'];
const MAX_REF_ENTRIES = 100_000;

function unsafe(msg: string): LokiError {
  return new LokiError('unsafe_workspace', msg);
}

/** Returns the workspace's git dir after checking it is a plain, self-contained repository. */
export function checkWorkspaceGitDir(workspace: string): string {
  const gitDir = join(workspace, '.git');
  let st;
  try {
    st = lstatSync(gitDir);
  } catch {
    throw unsafe(`the workspace ${workspace} has no .git directory any more`);
  }
  // A gitfile (`gitdir: /elsewhere`) or a symlink would point the daemon at a host path of the agent's choosing.
  if (!st.isDirectory()) throw unsafe(`${gitDir} is not a plain directory (symlink or gitfile)`);
  for (const f of FORBIDDEN) {
    const p = join(gitDir, f);
    if (existsSync(p) || isLink(p)) throw unsafe(`${p} exists; a workspace may not borrow objects or refs from elsewhere`);
  }
  for (const d of ['', 'objects', 'objects/pack', 'objects/info']) {
    const dir = join(gitDir, d);
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) throw unsafe(`${dir} is a symlink`);
    for (const name of readdirSync(dir)) {
      if (isLink(join(dir, name))) throw unsafe(`${join(dir, name)} is a symlink; refusing to read through it`);
    }
  }
  let seen = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (++seen > MAX_REF_ENTRIES) throw unsafe(`${join(gitDir, 'refs')} has too many entries`);
      const p = join(dir, name);
      const s = lstatSync(p);
      if (s.isSymbolicLink()) throw unsafe(`${p} is a symlink; refusing to read through it`);
      if (s.isDirectory()) walk(p);
    }
  };
  const refs = join(gitDir, 'refs');
  if (existsSync(refs)) {
    if (lstatSync(refs).isSymbolicLink()) throw unsafe(`${refs} is a symlink`);
    walk(refs);
  }
  return gitDir;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Creates `dir` (mode as git clone would make it), false when it already exists. Exclusive, so of
 * two creates of one workspace only one proceeds, and the other never removes what the first cloned.
 */
export function claimDir(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** lchown every entry under `root` (never following symlinks). */
export function chownTree(root: string, uid: number, gid: number): void {
  lchownSync(root, uid, gid);
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      lchownSync(p, uid, gid);
      if (ent.isDirectory()) stack.push(p);
    }
  }
}

/**
 * The owner for workspace files: configured, else the dedicated sandbox uid 64000:64000 when the
 * daemon is root, else leave as is. lokid always configures it (daemon.ts passes the sandbox uid);
 * the fallback serves a WorkspaceManager built on its own, as the git tests build it.
 */
export function workspaceOwner(cfg: { workspace_uid?: number | undefined; workspace_gid?: number | undefined }): { uid: number; gid: number } | undefined {
  if (cfg.workspace_uid !== undefined || cfg.workspace_gid !== undefined) {
    return { uid: cfg.workspace_uid ?? cfg.workspace_gid ?? 64000, gid: cfg.workspace_gid ?? cfg.workspace_uid ?? 64000 };
  }
  return typeof process.getuid === 'function' && process.getuid() === 0 ? { uid: 64000, gid: 64000 } : undefined;
}
