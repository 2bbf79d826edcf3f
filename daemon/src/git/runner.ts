// The one way the daemon runs git. Every invocation gets a clean environment
// (no system/global config, no inherited GIT_* variables, no SSH agent, no
// prompts) and command-line config that disables everything git could execute
// on our behalf (hooks, fsmonitor, pagers, credential helpers, odd transports).
//
// Why not simple-git: simple-git 4's argv guard (@simple-git/argv-parser)
// rejects exactly these overrides (`-c core.hooksPath`, `core.fsmonitor`,
// `credential.helper`, `GIT_CONFIG_GLOBAL`) unless its `unsafe.*` flags are
// switched on, which would disable the guard for every call. We instead never
// pass caller text as an option: every argv is built here or in this folder,
// ref names are validated first, and `--end-of-options`/`--` separate operands.
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';

/** Config every daemon git call runs with; command-line config wins over repository config. */
export const GIT_HARDENING: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.untrackedCache=false',
  'core.pager=cat',
  'core.editor=false',
  'core.askPass=',
  'sequence.editor=false',
  'protocol.allow=never',
  'protocol.file.allow=always',
  'protocol.https.allow=always',
  'protocol.ssh.allow=always',
  'protocol.ext.allow=never',
  'submodule.recurse=false',
  'fetch.recurseSubmodules=false',
  'gc.auto=0',
  'maintenance.auto=false',
  'commit.gpgSign=false',
  'tag.gpgSign=false',
  'advice.detachedHead=false',
].flatMap((kv) => ['-c', kv]);

// Not set here: uploadpack.packObjectsHook. Git honours it only from protected
// (system/global/command-line) config, which the daemon alone writes, and an
// empty value would be taken as a command to run.

// Resets the credential-helper list so no helper from any config runs. Omitted
// only for pushes to the project's own remote, where the operator-owned project
// config supplies the daemon's credentials.
const NO_CREDENTIAL_HELPER = ['-c', 'credential.helper='];

export interface GitRunOptions {
  /** Directory git runs in (`-C`); omit for commands that take no repository. */
  cwd?: string;
  /** Environment to take PATH and HOME from (default: process.env). Nothing else is inherited. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Extra `-c key=value` pairs, after the hardening. */
  config?: readonly string[];
  /** Git dirs owned by another uid (agent workspaces) that this one call may read. */
  safeDirectories?: readonly string[];
  /** Keep the project's own credential helper (push to its remote). */
  allowCredentials?: boolean;
  /** Exit codes that are answers, not failures (e.g. 1 from `merge-base --is-ancestor`). */
  okExitCodes?: readonly number[];
  timeoutMs?: number;
  /** Run as this uid/gid (the project repository's owner when the daemon is root). */
  runAs?: { uid: number; gid: number; home: string };
}

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** A failed git command; callers turn it into a specific LokiError. */
export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ''} failed (exit ${exitCode}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    this.name = 'GitCommandError';
  }
}

/** The environment git runs with: built from nothing, so GIT_DIR, GIT_SSH_COMMAND, SSH_AUTH_SOCK, tokens never leak in. */
export function gitEnv(base: NodeJS.ProcessEnv, globalConfig: string): NodeJS.ProcessEnv {
  return {
    PATH: base.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: base.HOME ?? '/nonexistent',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: globalConfig,
    GIT_TERMINAL_PROMPT: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_ATTR_NOSYSTEM: '1',
  };
}

/** Runs `git <hardening> [-C cwd] <args>` with execFile (argv array, never a shell). */
export async function runGit(args: readonly string[], opts: GitRunOptions = {}): Promise<GitResult> {
  // safe.directory is honoured only from protected (system/global) config, so a
  // per-call global config file is the one way to read a repo owned by the agent's uid.
  let tmp: string | undefined;
  let globalConfig = '/dev/null';
  if (opts.safeDirectories?.length) {
    tmp = mkdtempSync(join(tmpdir(), 'loki-git-'));
    globalConfig = join(tmp, 'gitconfig');
    const lines = opts.safeDirectories.map((d) => `\tdirectory = ${JSON.stringify(d)}`);
    writeFileSync(globalConfig, `[safe]\n${lines.join('\n')}\n`, { mode: 0o600 });
    if (opts.runAs) {
      chownSync(tmp, opts.runAs.uid, opts.runAs.gid);
      chownSync(globalConfig, opts.runAs.uid, opts.runAs.gid);
    }
  }
  const argv = [
    ...GIT_HARDENING,
    ...(opts.allowCredentials ? [] : NO_CREDENTIAL_HELPER),
    ...(opts.config ?? []).flatMap((kv) => ['-c', kv]),
    ...(opts.cwd ? ['-C', opts.cwd] : []),
    ...args,
  ];
  try {
    return await new Promise<GitResult>((resolve, reject) => {
      try {
        spawnGit(resolve, reject);
      } catch (err) {
        // Spawning as another uid needs CAP_SETUID/CAP_SETGID; Node throws EPERM synchronously.
        if (opts.runAs && (err as NodeJS.ErrnoException).code === 'EPERM') reject(cannotRunAsOwner('git', opts.runAs.uid));
        else reject(err as Error);
      }
    });
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }

  function spawnGit(resolve: (r: GitResult) => void, reject: (e: Error) => void): void {
    execFile(
      'git',
      argv,
      {
        env: gitEnv(opts.runAs ? { ...(opts.baseEnv ?? process.env), HOME: opts.runAs.home } : (opts.baseEnv ?? process.env), globalConfig),
        ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {}),
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
        windowsHide: true,
      },
      (err, stdout, stderr) => {
        const exitCode = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (exitCode === 0 || opts.okExitCodes?.includes(exitCode)) resolve({ stdout, stderr, exitCode });
        else reject(new GitCommandError(args, exitCode, stderr || String(err?.message ?? '')));
      },
    );
  }
}

/** Spawning as another uid needs CAP_SETUID/CAP_SETGID; without them Node throws EPERM, and this says what to change. */
export function cannotRunAsOwner(what: string, uid: number): LokiError {
  return new LokiError(
    'failed_precondition',
    `lokid cannot run ${what} as the repository's owner (uid ${uid}): it lacks CAP_SETUID/CAP_SETGID. ` +
      'Under systemd add them to CapabilityBoundingSet (the shipped deploy/systemd/lokid.service has them); in a container add SETUID and SETGID',
  );
}

function homeOf(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[2] === String(uid) && f[5]) return f[5];
    }
  } catch {
    // no passwd file: fall through
  }
  return '/nonexistent';
}

/**
 * A project is registered by its real path (no symbolic link in it). Whoever owns the
 * directory, or one above it, can later put a link in its place — to a repository only
 * root may read, or one outside the registry roots — and the daemon would clone, read and
 * write there as if it were the project. So the path must still be its own real path.
 */
export function assertStillRegisteredPath(path: string): void {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return; // gone: the git command itself says so
  }
  if (real !== path) {
    throw new LokiError(
      'unsafe_workspace',
      `the project directory ${path} now leads to ${real} (a symbolic link was put in its path); nothing is run there: check it, then unregister and register the project again`,
    );
  }
}

/**
 * Options for git commands in a registered project repository. When the daemon
 * runs as root and the repository belongs to someone else, git runs as the
 * repository's owner: git would refuse the repo otherwise (safe.directory), and
 * every object and ref the daemon writes stays owned by the repository's owner
 * instead of leaving root-owned files in their .git.
 */
export function inRepo(path: string, extra: Omit<GitRunOptions, 'cwd' | 'runAs'> = {}): GitRunOptions {
  assertStillRegisteredPath(path);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return { ...extra, cwd: path };
  const st = statSync(path);
  if (st.uid === 0) return { ...extra, cwd: path };
  return { ...extra, cwd: path, runAs: { uid: st.uid, gid: st.gid, home: homeOf(st.uid) } };
}

/**
 * The `--upload-pack` command for a clone the daemon (root) makes of a repository another
 * user owns: the side that reads the repository runs as its owner, so the kernel lets it
 * read only what the owner may. Without this, root follows whatever the owner puts in the
 * repository — `.git` as a link to a repository only root may read, linked refs or object
 * directories, alternates — and the clone hands that to the agent. Undefined when the daemon
 * is not root or the repository is root's (git runs as the daemon, as before).
 */
export function uploadPackAsOwner(path: string): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const st = statSync(path);
  if (st.uid === 0) return undefined;
  const home = homeOf(st.uid).replace(/'/g, `'\\''`);
  // git runs this through the shell with the repository path appended; uid/gid are numbers.
  return `setpriv --reuid=${st.uid} --regid=${st.gid} --clear-groups env HOME='${home}' git-upload-pack`;
}
