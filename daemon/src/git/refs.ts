// Names the daemon accepts for sessions, projects, branches and protected-branch
// patterns. Everything that ends up in a git argv or a path is checked here
// first, so no caller text can become an option (`-…`) or escape a directory.
import { randomBytes } from 'node:crypto';
import { LokiError } from '../../../common/src/index.js';
import { GitCommandError, runGit } from './runner.js';

const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PROJECT_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const REMOTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
// A conservative allow-list on top of `git check-ref-format`: no `@`, `{`, `~`,
// `^`, `:`, `\`, spaces or control characters, and never a leading `-`.
const BRANCH = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
const PATTERN = /^[A-Za-z0-9*?][A-Za-z0-9._/*?-]{0,199}$/;
// The random part is optional so branches made before it existed still count (prune, bring-back).
const SESSION_BRANCH = /^loki\/session-\d{1,12}-\d{1,10}(?:-[0-9a-f]{8})?$/;

/** Branches protected in every project, whatever the config says. */
export const ALWAYS_PROTECTED: readonly string[] = ['main', 'master'];

export function validateSessionId(id: string): string {
  if (!SESSION_ID.test(id) || id.includes('..')) {
    throw new LokiError('invalid_argument', `invalid session id ${JSON.stringify(id)}: use 1-128 of [A-Za-z0-9_.-], starting with a letter or digit`);
  }
  return id;
}

export function validateProjectName(name: string): string {
  if (!PROJECT_NAME.test(name)) {
    throw new LokiError('invalid_argument', `invalid project name ${JSON.stringify(name)}: use 1-63 of [a-z0-9_.-], starting with a letter or digit`);
  }
  return name;
}

export function validateRemoteName(name: string): string {
  if (!REMOTE_NAME.test(name)) throw new LokiError('invalid_argument', `invalid remote name ${JSON.stringify(name)}`);
  return name;
}

/** Syntactic check only (no git): the allow-list regex and git's own ref rules that the regex leaves open. */
export function checkBranchSyntax(name: string, what = 'branch name'): string | undefined {
  if (name.startsWith('-')) return `${what} ${JSON.stringify(name)} must not start with "-"`;
  if (!BRANCH.test(name)) return `${what} ${JSON.stringify(name)} may only contain [A-Za-z0-9._/-] and must start with a letter or digit`;
  if (/\.\.|\/\/|\/\.|\.lock(\/|$)|[/.]$/.test(name) || name === 'HEAD') {
    return `${what} ${JSON.stringify(name)} is not a valid git branch name`;
  }
  return undefined;
}

/** Validates a branch name with the allow-list and then `git check-ref-format --branch`. */
export async function validateBranchName(name: string, what = 'branch name'): Promise<string> {
  const problem = checkBranchSyntax(name, what);
  if (problem) throw new LokiError('invalid_ref', problem);
  try {
    await runGit(['check-ref-format', '--branch', name]);
  } catch (err) {
    if (err instanceof GitCommandError) throw new LokiError('invalid_ref', `${what} ${JSON.stringify(name)} is rejected by git check-ref-format`);
    throw err;
  }
  return name;
}

/** A protected-branch glob: `*` within one path segment, `**` across segments, `?` one character. */
export function checkPatternSyntax(pattern: string): string | undefined {
  if (pattern.startsWith('-')) return `protected branch pattern ${JSON.stringify(pattern)} must not start with "-"`;
  if (!PATTERN.test(pattern) || /\.\.|\/\/|^\/|\/$|\*\*\*/.test(pattern)) {
    return `invalid protected branch pattern ${JSON.stringify(pattern)}: use branch-name characters [A-Za-z0-9._/-] and the globs * ** ?`;
  }
  return undefined;
}

export function validatePattern(pattern: string): string {
  const problem = checkPatternSyntax(pattern);
  if (problem) throw new LokiError('invalid_argument', problem);
  return pattern;
}

export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.\\+^$(){}|[\]-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** True when `branch` is `main`, `master`, the project's base branch or matches a configured pattern. */
export function isProtectedBranch(branch: string, patterns: readonly string[]): boolean {
  for (const p of [...ALWAYS_PROTECTED, ...patterns]) {
    if (p === branch || globToRegExp(p).test(branch)) return true;
  }
  return false;
}

/**
 * The documented session branch format, `loki/session-<unix seconds>-<pid>-<random>`. The
 * 32 random bits make names from one daemon in one second differ without waiting for the
 * clock (starts used to be limited to one per second); the time and pid stay for humans.
 */
export function sessionBranchName(unixSeconds: number, pid: number, random: string = randomBytes(4).toString('hex')): string {
  if (!Number.isInteger(unixSeconds) || unixSeconds <= 0) throw new LokiError('invalid_argument', 'session timestamp must be a positive integer');
  if (!Number.isInteger(pid) || pid <= 0 || pid > 4_294_967_295) throw new LokiError('invalid_argument', `invalid pid ${pid}`);
  if (!/^[0-9a-f]{8}$/.test(random)) throw new LokiError('invalid_argument', 'session branch random part must be 8 hex digits');
  return `loki/session-${unixSeconds}-${pid}-${random}`;
}

export function isSessionBranch(name: string): boolean {
  return SESSION_BRANCH.test(name);
}
