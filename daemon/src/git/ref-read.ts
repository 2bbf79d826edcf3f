// Branch tips read from a repository's files instead of a `git` process: a
// session start asks for two (the base branch and the new session branch's
// name), and on a busy host each `git rev-parse` is a fork + exec of tens of ms,
// most of a warm start. What is read is what git's files backend keeps: a loose
// ref (`refs/heads/<name>`, an object id or `ref: <target>`), else its line in
// `packed-refs`; in a linked worktree both live in the common directory. Anything
// else (reftable, a `.git` that is neither a directory nor a `gitdir:` file, a
// symbolic ref to something outside refs/, a file git would not write) answers
// `undefined`, and the caller asks git as before.
//
// Git never points a branch at anything but a commit (`update-ref` refuses
// "non-commit object … to branch"), so an id read here is the commit that
// `rev-parse refs/heads/<name>^{commit}` would print.
//
// The files are read synchronously: a handful of tiny files cost microseconds
// that way, while each asynchronous read is four trips through the thread pool
// (open, stat, read, close), which a warm start paid one after the other. The
// project may belong to another user, so nothing is read that could stall the
// event loop: opened non-blocking, only a regular file of a bounded size (a FIFO,
// a device or a huge file planted at a ref's path sends the caller to git).
//
// lokid reads these files as root, and the user who owns a project can put a
// link anywhere in it: a ref, `packed-refs` or `.git` itself linked to a root-only
// repository's (or a `gitdir:` file naming one) made root read that repository's
// branch tips, and a ref linked to a device made root open the device (opening
// some has effects of its own: /dev/watchdog arms the watchdog). So a repository
// that is not lokid's own uid's is read strictly, as git run as its owner would
// see nothing more: from its directory held open, one name at a time with
// O_NOFOLLOW, every directory and file on the way its owner's, no `gitdir:` or
// `commondir` indirection; anything else goes to git, which runs as the owner.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { inRepo, runGit } from './runner.js';

const OID_RE = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const MAX_SYMREF_DEPTH = 5;

/** More than any packed-refs git writes for a repository Loki serves; a larger file is left to git. */
const MAX_REF_FILE_BYTES = 64 * 1024 * 1024;

class Unreadable extends Error {}

/** A file's text; 'dir' for a directory; undefined when there is nothing there. Throws Unreadable for what is left to git. */
type Read = string | 'dir' | undefined;

/** The text of an open file, or 'dir'; Unreadable for anything but a bounded regular file (and one not `owner`'s, when given). */
function readOpen(fd: number, owner?: number): Read {
  const st = fstatSync(fd);
  if (owner !== undefined && st.uid !== owner) throw new Unreadable();
  if (st.isDirectory()) return 'dir';
  if (!st.isFile() || st.size > MAX_REF_FILE_BYTES) throw new Unreadable();
  return readFileSync(fd, 'utf8');
}

/** A path in a repository of lokid's own uid (git runs as lokid there too): links followed, as git follows them. */
function readPath(path: string): Read {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ENXIO') throw new Unreadable(); // a socket
    throw err;
  }
  try {
    return readOpen(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `parts` under the directory open as `dirFd`, one name at a time, never through a link, every
 * directory and the file `owner`'s. Names are looked up in the held directory through
 * /proc/self/fd (Node has no openat), so a rename above it changes nothing.
 */
function readBeneath(dirFd: number, parts: readonly string[], owner: number): Read {
  const opened: number[] = [];
  try {
    let at = dirFd;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const name = `/proc/self/fd/${at}/${parts[i]}`;
      let fd: number;
      try {
        fd = openSync(name, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY | (last ? 0 : constants.O_DIRECTORY));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return undefined;
        // ENOTDIR: a file where a directory was asked for (no such ref), or a link (left to git).
        if (code === 'ENOTDIR' && !lstatSync(name).isSymbolicLink()) return undefined;
        if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENXIO') throw new Unreadable();
        throw err;
      }
      opened.push(fd);
      if (last) return readOpen(fd, owner);
      if (fstatSync(fd).uid !== owner) throw new Unreadable();
      at = fd;
    }
    return undefined;
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** Reads a repository's git files, by name relative to its git directory (`['refs', 'heads', 'main']`). */
interface GitFiles {
  read(parts: readonly string[]): Read;
  close(): void;
}

/** The repository's git files, or undefined when it keeps them in a way this reader does not read. */
function openGitFiles(repo: string): GitFiles | undefined {
  let repoFd: number;
  try {
    repoFd = openSync(repo, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return undefined; // gone, a link or not a directory: git (through inRepo) says which
  }
  let keep = false;
  try {
    // The directory held must be the repository's own path, not one reached through a link above it.
    if (readlinkSync(`/proc/self/fd/${repoFd}`) !== repo) return undefined;
    const owner = fstatSync(repoFd).uid;
    if (owner !== process.getuid?.()) {
      // Another user's: only `<repo>/.git/…`, read strictly. A `.git` file (gitdir:) or a `commondir` leads elsewhere: git.
      if (readBeneath(repoFd, ['.git'], owner) !== 'dir' || readBeneath(repoFd, ['.git', 'commondir'], owner) !== undefined) return undefined;
      keep = true;
      return { read: (parts) => readBeneath(repoFd, ['.git', ...parts], owner), close: () => closeSync(repoFd) };
    }
    const dir = commonDir(repo);
    return dir ? { read: (parts) => readPath(join(dir, ...parts)), close: () => undefined } : undefined;
  } finally {
    if (!keep) closeSync(repoFd);
  }
}

/** Where a repository of lokid's own uid keeps its shared refs: its git directory, or a linked worktree's common directory. */
function commonDir(repo: string): string | undefined {
  const dotGit = join(repo, '.git');
  let gitDir = dotGit;
  const asFile = readPath(dotGit);
  if (asFile === 'dir') {
    gitDir = dotGit;
  } else if (typeof asFile === 'string') {
    const m = /^gitdir: (.+)$/.exec(asFile.trim());
    if (!m) return undefined;
    gitDir = isAbsolute(m[1]!) ? m[1]! : resolve(repo, m[1]!);
  } else {
    return undefined;
  }
  const common = readPath(join(gitDir, 'commondir'));
  if (common === 'dir') return undefined;
  return typeof common === 'string' ? resolve(gitDir, common.trim()) : gitDir;
}

/** A ref name this reader may turn into a path: under refs/, no empty, `.` or `..` component. */
function safeRefName(ref: string): boolean {
  return ref.startsWith('refs/') && ref.split('/').every((c) => c !== '' && c !== '.' && c !== '..') && !/[\0\\]/.test(ref);
}

/**
 * The commit each `refs/heads/<name>` points to (symbolic refs followed), or
 * null for a branch that does not exist; undefined when the repository keeps
 * its refs in a way this reader does not read (ask git then).
 */
export async function readBranchTips(repo: string, names: readonly string[]): Promise<Map<string, string | null> | undefined> {
  let files: GitFiles | undefined;
  try {
    files = openGitFiles(repo);
    if (!files) return undefined;
    const git = files;
    const config = git.read(['config']);
    // reftable (extensions.refStorage) keeps no loose refs or packed-refs.
    if (typeof config !== 'string' || /^\s*refstorage\s*=/im.test(config)) return undefined;
    let packed: Map<string, string> | undefined;
    const packedRefs = () => (packed ??= parsePacked(git.read(['packed-refs'])));
    const tip = (ref: string, depth: number): string | null => {
      if (!safeRefName(ref) || depth > MAX_SYMREF_DEPTH) throw new Unreadable();
      const loose = git.read(ref.split('/'));
      if (loose === undefined || loose === 'dir') return packedRefs().get(ref) ?? null;
      const text = loose.trim();
      if (OID_RE.test(text)) return text;
      const sym = /^ref: (\S+)$/.exec(text);
      if (sym) return tip(sym[1]!, depth + 1);
      throw new Unreadable();
    };
    const out = new Map<string, string | null>();
    for (const name of names) out.set(name, tip(`refs/heads/${name}`, 0));
    return out;
  } catch (err) {
    if (err instanceof Unreadable) return undefined;
    throw err;
  } finally {
    files?.close();
  }
}

/** `packed-refs`: `<oid> <ref>` lines, `^<oid>` peeled lines after tags, a `#` header. */
function parsePacked(text: string | 'dir' | undefined): Map<string, string> {
  const refs = new Map<string, string>();
  if (text === 'dir') throw new Unreadable();
  for (const line of (text ?? '').split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('^')) continue;
    const sp = line.indexOf(' ');
    const oid = line.slice(0, sp);
    if (sp < 0 || !OID_RE.test(oid)) throw new Unreadable();
    refs.set(line.slice(sp + 1), oid);
  }
  return refs;
}

/** readBranchTips, or git (`rev-parse <ref>^{commit}`, one per name) where the files cannot be read. */
export async function branchTips(repo: string, names: readonly string[]): Promise<Map<string, string | null>> {
  const read = await readBranchTips(repo, names);
  if (read) return read;
  const out = new Map<string, string | null>();
  for (const name of names) {
    const r = await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `refs/heads/${name}^{commit}`], inRepo(repo, { okExitCodes: [1] }));
    out.set(name, r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : null);
  }
  return out;
}
