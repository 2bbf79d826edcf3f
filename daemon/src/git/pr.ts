// Pull requests with the GitHub CLI, run by the daemon with its own
// credentials (never inside the sandbox), with execFile and an argv array.
// When gh is missing or not authenticated, the result carries the exact
// commands an operator can run by hand instead.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { counted, hasHiddenCharacters, needsEscape } from '../../../common/src/index.js';
import type { CommitInfo, DiffSummary } from './summary.js';
import type { TrailCounts } from './trail.js';

export interface PrResult {
  opened: boolean;
  /** The PR URL gh printed, when opened. */
  url: string;
  /** Why no PR was opened (empty when opened). */
  reason: string;
  /** Commands that do the same by hand (always filled, for the record). */
  commands: string[];
}

export interface PrRequest {
  projectPath: string;
  remote: string | null;
  baseBranch: string;
  branch: string;
  title: string;
  body: string;
  /** `HOST/OWNER/REPO` from the remote URL, when it has that shape (sets GH_REPO). */
  ghRepo?: string;
}

/**
 * `HOST/OWNER/REPO` for gh's GH_REPO, from an https, ssh or scp-style remote URL.
 * With it gh needs nothing from the local repository, which may belong to
 * another user than the daemon.
 */
export function ghRepoFromUrl(url: string): string | undefined {
  const m =
    /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url) ??
    /^(?:[^@/]+@)?([^/:]+):([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url);
  if (!m) return undefined;
  const [, host, owner, repo] = m;
  const part = /^[A-Za-z0-9_.-]+$/;
  return part.test(host!) && part.test(owner!) && part.test(repo!) ? `${host}/${owner}/${repo}` : undefined;
}

/**
 * Quoting for printed commands, so they paste safely into a shell as one line. Plain
 * text gets POSIX single quotes. Text with a newline, a control character or an
 * invisible/bidi character (a multi-line PR body, an agent's commit subject) gets
 * ANSI-C quoting (`$'…'`, bash, zsh and ksh): each such character is written as an
 * escape the shell turns back into it, so the command holds nothing a terminal would
 * act on or hide, and the CLI can print it exactly as it must be pasted.
 */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(s)) return s;
  if (!hasHiddenCharacters(s)) return `'${s.replace(/'/g, `'\\''`)}'`;
  let out = "$'";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\' || ch === "'") out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (!needsEscape(cp)) out += ch;
    // A lone surrogate has no UTF-8 form; git output never holds one, but say so visibly.
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    // \x only below 0x80: in $'…' it is a raw byte, and C1 controls must be encoded as characters.
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}'`;
}

export function prTitle(sessionId: string, commits: readonly CommitInfo[]): string {
  const first = commits.length === 1 ? commits[0]!.subject.slice(0, 200) : '';
  return first ? `${first} (Loki session ${sessionId})` : `Loki session ${sessionId}`;
}

export function prBody(summary: DiffSummary, trail: TrailCounts): string {
  const lines = [
    `Session: ${summary.sessionId}`,
    `Branch: ${summary.branch} (base ${summary.baseBranch} @ ${summary.baseCommit.slice(0, 12)})`,
    `Changes: ${counted(summary.filesChanged, 'file')}, +${summary.insertions} -${summary.deletions}`,
    '',
    `Commits (${summary.commits.length}):`,
    ...summary.commits.map((c) => `- ${c.sha.slice(0, 12)} ${c.subject}`),
    '',
    `Agent audit trail: ${counted(trail.total, 'action')}`,
    ...Object.entries(trail.byAction)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([action, n]) => `- ${action}: ${n}`),
    '',
    'Opened by Loki. Review the branch and merge it yourself; the agent cannot update protected branches.',
  ];
  return lines.join('\n');
}

export function manualPrCommands(req: PrRequest): string[] {
  const remote = req.remote ?? 'origin';
  const ref = `refs/heads/${req.branch}:refs/heads/${req.branch}`;
  const cmds: string[] = [];
  if (!req.remote) cmds.push(`git -C ${shellQuote(req.projectPath)} remote add origin <URL of the repository on GitHub>`);
  cmds.push(`git -C ${shellQuote(req.projectPath)} push ${shellQuote(remote)} ${shellQuote(ref)}`);
  cmds.push(
    `cd ${shellQuote(req.projectPath)} && gh pr create --base ${shellQuote(req.baseBranch)} --head ${shellQuote(req.branch)} --title=${shellQuote(req.title)} --body=${shellQuote(req.body)}`,
  );
  return cmds;
}

/** Finds an executable on PATH (or checks an absolute path); undefined when absent. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = isAbsolute(name) ? [name] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** gh gets only what it needs for the daemon's own GitHub login, never the whole daemon environment. */
function ghEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { PATH: env.PATH ?? '/usr/bin:/bin', LANG: 'C', GH_PROMPT_DISABLED: '1', GH_NO_UPDATE_NOTIFIER: '1', NO_COLOR: '1', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' };
  for (const k of ['HOME', 'GH_TOKEN', 'GITHUB_TOKEN', 'GH_HOST', 'GH_ENTERPRISE_TOKEN', 'GH_CONFIG_DIR', 'XDG_CONFIG_HOME']) {
    if (env[k] !== undefined) out[k] = env[k];
  }
  return out;
}

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...ghEnv(env), ...extra }, encoding: 'utf8', timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

export interface GhOptions {
  ghPath: string;
  env: NodeJS.ProcessEnv;
}

/** Checks gh is installed and logged in; returns its path, or the reason it cannot be used. */
export async function ghReady(opts: GhOptions, cwd: string): Promise<{ path?: string; reason?: string }> {
  const path = findExecutable(opts.ghPath, opts.env);
  if (!path) return { reason: `the GitHub CLI (${opts.ghPath}) is not installed on the daemon's PATH` };
  const status = await run(path, ['auth', 'status'], cwd, opts.env);
  if (status.code !== 0) return { reason: 'the GitHub CLI is not authenticated for the daemon user (run `gh auth login` as that user)' };
  return { path };
}

/**
 * The URL of the open pull request gh names when it refuses to open a second one for this branch
 * into this base (its message: `a pull request for branch "HEAD" into branch "BASE" already exists:`,
 * then the URL; HEAD may carry an `owner:` prefix). Undefined for any other failure.
 */
function alreadyOpen(stderr: string, req: Pick<PrRequest, 'baseBranch' | 'branch'>): string | undefined {
  const m = /a pull request for branch "([^"\n]+)" into branch "([^"\n]+)" already exists:\s*\n\s*(https:\/\/[^\s]+)/.exec(stderr);
  if (!m || m[2] !== req.baseBranch || (m[1] !== req.branch && !m[1]!.endsWith(`:${req.branch}`))) return undefined;
  return m[3];
}

/** `gh pr create --base <base> --head <branch> --title … --body …`, run in the project repository. */
export async function ghCreatePr(ghPath: string, req: PrRequest, env: NodeJS.ProcessEnv): Promise<PrResult> {
  const commands = manualPrCommands(req);
  // `--title=`/`--body=` keep agent-written text (a subject may start with `-`) from ever parsing as a flag.
  const args = ['pr', 'create', '--base', req.baseBranch, '--head', req.branch, `--title=${req.title}`, `--body=${req.body}`];
  const r = await run(ghPath, args, req.projectPath, env, req.ghRepo ? { GH_REPO: req.ghRepo } : {});
  if (r.code !== 0) {
    const open = alreadyOpen(r.stderr, req);
    if (open) return { opened: true, url: open, reason: 'it was already open', commands };
    const why = r.stderr.trim().split('\n').pop() ?? '';
    return { opened: false, url: '', reason: `gh pr create failed (exit ${r.code}): ${why}`, commands };
  }
  const url = r.stdout.trim().split('\n').filter(Boolean).pop() ?? '';
  return { opened: true, url, reason: '', commands };
}
