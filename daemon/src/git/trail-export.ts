// The copy of a session's agent trail written into its project at the end
// (git.export_agent_audit). The project belongs to a user, who can change any
// name in it at any moment: checking `.loki/logs` with lstat and then writing as
// root let them swap the directory for a link to a root-only place in between,
// and root created, replaced or deleted `agent-audit.jsonl` there (a race won
// within a few hundred tries; test/daemon/git/trail-export.test.ts).
//
// So the file is written by a small process running as the project directory's
// owner, in that directory held open by lokid: whatever links the owner plants,
// the kernel lets the write go only where the owner could write anyway, and the
// files it makes are the owner's. Only a project that root owns is written as
// root, and then only when no one else may change its directories.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { cannotRunAsOwner } from './runner.js';

export const TRAIL_EXPORT_FILE = join('.loki', 'logs', 'agent-audit.jsonl');

// Runs as the writer (node -e, CommonJS), in the project directory lokid passes as fd 3.
// Each directory is entered with chdir and checked once entered: the process's working
// directory is then that directory, whatever later happens to its name.
const WRITER = String.raw`
'use strict';
const fs = require('node:fs');
const C = fs.constants;
const fail = (code, label, problem) => { process.stderr.write(JSON.stringify({ label, problem })); process.exit(code); };
const me = process.getuid();
const entered = (label) => {
  const s = fs.statSync('.');
  if (s.uid !== me) fail(11, label, 'belongs to uid ' + s.uid + ', not to uid ' + me + ' that writes the export');
  if (me === 0 && (s.mode & 0o022)) fail(11, label, 'is writable by users other than root (the export would be written as root)');
};
try {
  process.umask(0o022);
  process.chdir('/proc/self/fd/3');
  entered('');
  let label = '';
  for (const d of ['.loki', 'logs']) {
    label = label ? label + '/' + d : d;
    try { fs.mkdirSync(d, 0o755); } catch (e) { if (e.code !== 'EEXIST') throw e; }
    const l = fs.lstatSync(d);
    if (l.isSymbolicLink()) fail(10, label, 'is a symlink');
    if (!l.isDirectory()) fail(10, label, 'is not a directory');
    process.chdir(d);
    entered(label);
  }
  try { fs.unlinkSync('agent-audit.jsonl'); } catch (e) { if (e.code !== 'ENOENT') throw e; }
  const fd = fs.openSync('agent-audit.jsonl', C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o444);
  fs.writeFileSync(fd, fs.readFileSync(0));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
} catch (e) {
  fail(12, '', String(e && e.message ? e.message : e));
}
`;

const MAX_WRITER_STDERR = 4096;

interface WriterResult {
  code: number | null;
  stderr: string;
}

function runWriter(dirFd: number, text: string, as: { uid: number; gid: number } | undefined): Promise<WriterResult> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      // A clean environment: nothing from lokid's (NODE_OPTIONS, a preload) reaches a process run as someone else.
      child = spawn(process.execPath, ['-e', WRITER], { stdio: ['pipe', 'ignore', 'pipe', dirFd], env: { PATH: '/usr/bin:/bin' }, timeout: 60_000, ...(as ?? {}) });
    } catch (err) {
      if (as && (err as NodeJS.ErrnoException).code === 'EPERM') return reject(cannotRunAsOwner('the agent audit trail export', as.uid));
      return reject(err as Error);
    }
    let stderr = '';
    // The writer runs as the project's owner, who could make it say anything: keep only what a refusal needs.
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < MAX_WRITER_STDERR) stderr += d.toString().slice(0, MAX_WRITER_STDERR - stderr.length);
    });
    child.stdin!.on('error', () => undefined); // a writer that refused exits before reading; its code says why
    child.once('error', (err) => reject(new LokiError('failed_precondition', `cannot start the agent audit trail export${as ? ` as uid ${as.uid}` : ''}: ${err.message}`)));
    child.once('close', (code) => resolve({ code, stderr }));
    child.stdin!.end(text);
  });
}

/**
 * Writes `text` to `<projectPath>/.loki/logs/agent-audit.jsonl` (0444, replacing an older
 * copy) as the owner of the project directory; refuses links on the way. Returns the path.
 */
export async function exportTrailFile(projectPath: string, text: string): Promise<string> {
  let dirFd: number;
  try {
    dirFd = openSync(projectPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new LokiError('unsafe_workspace', `the project directory ${projectPath} is a symlink or not a directory; refusing to export the agent audit trail through it`);
    if (code === 'ENOENT') throw new LokiError('failed_precondition', `the project directory ${projectPath} is gone; the agent audit trail was not exported`);
    throw err;
  }
  try {
    // The directory held open must be the project's own path, not one reached through a link put above it.
    const held = readlinkSync(`/proc/self/fd/${dirFd}`);
    if (held !== projectPath) {
      throw new LokiError('unsafe_workspace', `the project directory ${projectPath} now leads to ${held} (a symbolic link was put in its path); refusing to export the agent audit trail there`);
    }
    const st = fstatSync(dirFd);
    const asOwner = process.getuid?.() === 0 && st.uid !== 0 ? { uid: st.uid, gid: st.gid } : undefined;
    const r = await runWriter(dirFd, text, asOwner);
    if (r.code === 0) return join(projectPath, TRAIL_EXPORT_FILE);
    let said: { label?: string; problem?: string } = {};
    try {
      said = JSON.parse(r.stderr) as typeof said;
    } catch {
      said = { problem: r.stderr.trim() || `exit ${r.code ?? 'by signal'}` };
    }
    // Text from a process running as the project's owner: one printable line, bounded, before it reaches events and logs.
    const clean = (t: unknown) => String(t ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 300);
    said = { label: clean(said.label), problem: clean(said.problem) };
    const where = said.label ? join(projectPath, said.label) : projectPath;
    if (r.code === 10) throw new LokiError('unsafe_workspace', `${where} ${said.problem}; refusing to export the agent audit trail through it`);
    if (r.code === 11) throw new LokiError('unsafe_workspace', `${where} ${said.problem}; the agent audit trail was not exported`);
    throw new LokiError('failed_precondition', `could not export the agent audit trail to ${join(projectPath, TRAIL_EXPORT_FILE)}: ${said.problem}`);
  } finally {
    closeSync(dirFd);
  }
}
