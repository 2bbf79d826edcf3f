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
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { inRepo, runGit } from './runner.js';

const OID_RE = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const MAX_SYMREF_DEPTH = 5;

/** Where a repository's shared refs are: its git directory, or a linked worktree's common directory. */
async function commonDir(repo: string): Promise<string | undefined> {
  const dotGit = join(repo, '.git');
  let gitDir = dotGit;
  const asFile = await readText(dotGit);
  if (asFile === 'dir') {
    gitDir = dotGit;
  } else if (typeof asFile === 'string') {
    const m = /^gitdir: (.+)$/.exec(asFile.trim());
    if (!m) return undefined;
    gitDir = isAbsolute(m[1]!) ? m[1]! : resolve(repo, m[1]!);
  } else {
    return undefined;
  }
  const common = await readText(join(gitDir, 'commondir'));
  if (common === 'dir') return undefined;
  return typeof common === 'string' ? resolve(gitDir, common.trim()) : gitDir;
}

/** More than any packed-refs git writes for a repository Loki serves; a larger file is left to git. */
const MAX_REF_FILE_BYTES = 64 * 1024 * 1024;

/** A file's text; 'dir' for a directory; undefined when there is nothing there. */
async function readText(path: string): Promise<string | 'dir' | undefined> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return 'dir';
    if (!st.isFile() || st.size > MAX_REF_FILE_BYTES) throw new Unreadable();
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** A ref name this reader may turn into a path: under refs/, no empty, `.` or `..` component. */
function safeRefName(ref: string): boolean {
  return ref.startsWith('refs/') && ref.split('/').every((c) => c !== '' && c !== '.' && c !== '..') && !/[\0\\]/.test(ref);
}

class Unreadable extends Error {}

/**
 * The commit each `refs/heads/<name>` points to (symbolic refs followed), or
 * null for a branch that does not exist; undefined when the repository keeps
 * its refs in a way this reader does not read (ask git then).
 */
export async function readBranchTips(repo: string, names: readonly string[]): Promise<Map<string, string | null> | undefined> {
  try {
    const dir = await commonDir(repo);
    if (!dir) return undefined;
    const config = await readText(join(dir, 'config'));
    // reftable (extensions.refStorage) keeps no loose refs or packed-refs.
    if (typeof config !== 'string' || /^\s*refstorage\s*=/im.test(config)) return undefined;
    let packed: Map<string, string> | undefined;
    const packedRefs = async () => (packed ??= parsePacked(await readText(join(dir, 'packed-refs'))));
    const tip = async (ref: string, depth: number): Promise<string | null> => {
      if (!safeRefName(ref) || depth > MAX_SYMREF_DEPTH) throw new Unreadable();
      const loose = await readText(join(dir, ...ref.split('/')));
      if (loose === undefined || loose === 'dir') return (await packedRefs()).get(ref) ?? null;
      const text = loose.trim();
      if (OID_RE.test(text)) return text;
      const sym = /^ref: (\S+)$/.exec(text);
      if (sym) return tip(sym[1]!, depth + 1);
      throw new Unreadable();
    };
    const out = new Map<string, string | null>();
    for (const name of names) out.set(name, await tip(`refs/heads/${name}`, 0));
    return out;
  } catch (err) {
    if (err instanceof Unreadable) return undefined;
    throw err;
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
