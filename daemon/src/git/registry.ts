// The project registry's read side: discovery under roots, per-project health
// and branch sync. Everything here reads repositories; nothing in a repository
// runs: the walk never follows a symlink, and every git call carries the
// hardening in runner.ts plus, for `status`, overrides that switch off each
// content filter the repository's config defines.
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { inRepo, runGit } from './runner.js';
import { refExists, type Project } from './projects.js';
import { isSessionBranch } from './refs.js';

export const DEFAULT_DISCOVER_DEPTH = 3;
export const MAX_DISCOVER_DEPTH = 8;
/** Entries the walk looks at before it stops and says so (a huge tree cannot pin the daemon). */
export const MAX_DISCOVER_ENTRIES = 50_000;
const SKIP_DIRS = new Set(['node_modules', '.cache', '.npm', '.venv', 'vendor', 'target']);

export interface DiscoveredRepo {
  path: string;
  root: string;
}

export interface DiscoverResult {
  repos: DiscoveredRepo[];
  skippedSymlinks: string[];
  truncated: boolean;
}

/** Real path of an existing directory given as an absolute path, or a clear error. */
export function realRoot(root: string): string {
  if (!isAbsolute(root)) throw new LokiError('invalid_argument', `discover root must be absolute, got ${JSON.stringify(root)}`);
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    throw new LokiError('invalid_argument', `discover root ${root} does not exist`);
  }
  if (!lstatSync(real).isDirectory()) throw new LokiError('invalid_argument', `discover root ${root} is not a directory`);
  return real;
}

/**
 * Repositories (a directory holding `.git`, as a directory or a gitfile) at most
 * `depth` levels below each root. Symlinks are listed, never followed, so the
 * walk cannot leave its roots or loop. It does not descend into a repository.
 */
export function discoverRepos(roots: readonly string[], depth: number): DiscoverResult {
  if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DISCOVER_DEPTH) throw new LokiError('invalid_argument', `depth must be an integer from 0 to ${MAX_DISCOVER_DEPTH}`);
  const out: DiscoverResult = { repos: [], skippedSymlinks: [], truncated: false };
  const seen = new Set<string>();
  let entries = 0;
  for (const root of roots) {
    const stack: { dir: string; level: number }[] = [{ dir: root, level: 0 }];
    while (stack.length) {
      const { dir, level } = stack.pop()!;
      if (seen.has(dir)) continue;
      seen.add(dir);
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        continue; // unreadable: not ours to report as a repo
      }
      if (names.includes('.git')) {
        const st = lstatSync(join(dir, '.git'));
        if (st.isSymbolicLink()) out.skippedSymlinks.push(join(dir, '.git'));
        else {
          out.repos.push({ path: dir, root });
          continue;
        }
      }
      if (level >= depth) continue;
      const next: string[] = [];
      for (const name of names) {
        if (++entries > MAX_DISCOVER_ENTRIES) {
          out.truncated = true;
          stack.length = 0;
          break;
        }
        if (name === '.git' || SKIP_DIRS.has(name)) continue;
        const p = join(dir, name);
        let st;
        try {
          st = lstatSync(p);
        } catch {
          continue;
        }
        if (st.isSymbolicLink()) out.skippedSymlinks.push(p);
        else if (st.isDirectory()) next.push(p);
      }
      for (const p of next.reverse()) stack.push({ dir: p, level: level + 1 });
    }
  }
  out.repos.sort((a, b) => a.path.localeCompare(b.path));
  return out;
}

export type CheckStatus = 'ok' | 'warn' | 'fail';
export interface HealthCheck {
  name: string;
  status: CheckStatus;
  detail: string;
}
export interface ProjectHealth {
  status: CheckStatus;
  checks: HealthCheck[];
}

export interface HealthInputs {
  /** The last session workspace of this project, if any. */
  lastSession?: { sessionId: string; state: string; result?: string } | undefined;
  /** Whether the sandbox image is present; undefined when the daemon cannot tell. */
  imagePresent?: (() => Promise<boolean>) | undefined;
  remoteTimeoutMs?: number;
}

/** `-c filter.<name>.*=` for every filter driver the repository's config names: `git status` then runs none. */
async function filterOverrides(repo: string): Promise<string[] | undefined> {
  const r = await runGit(['config', '--get-regexp', '^filter\\.'], inRepo(repo, { okExitCodes: [1] }));
  const names = new Set<string>();
  for (const line of r.stdout.split('\n')) {
    const key = line.split(' ')[0] ?? '';
    const m = /^filter\.(.+)\.[^.]+$/.exec(key);
    if (m) names.add(m[1]!);
  }
  // A name git's `-c` parser would split differently cannot be overridden reliably: do not run status at all.
  if ([...names].some((n) => /[=\s]/.test(n))) return undefined;
  return [...names].flatMap((n) => [`filter.${n}.clean=`, `filter.${n}.smudge=`, `filter.${n}.process=`, `filter.${n}.required=false`]);
}

async function check(name: string, fn: () => Promise<[CheckStatus, string]>): Promise<HealthCheck> {
  try {
    const [status, detail] = await fn();
    return { name, status, detail };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0]!.slice(0, 300) : String(err);
    return { name, status: 'fail', detail: msg };
  }
}

export async function projectHealth(p: Project, inputs: HealthInputs = {}): Promise<ProjectHealth> {
  const readable = await check('repo_readable', async () => {
    await runGit(['rev-parse', '--git-dir'], inRepo(p.path));
    return ['ok', p.path];
  });
  const checks = [readable];
  if (readable.status === 'ok') {
    checks.push(
      await check('base_branch', async () => ((await refExists(p.path, `refs/heads/${p.baseBranch}`)) ? ['ok', p.baseBranch] : ['fail', `branch ${p.baseBranch} is missing`])),
      await check('working_tree', async () => {
        const overrides = await filterOverrides(p.path);
        if (!overrides) return ['warn', 'not checked: a filter driver has an unusual name'];
        const r = await runGit(['status', '--porcelain=v1', '--untracked-files=no', '--ignore-submodules=all', '--no-renames'], inRepo(p.path, { config: overrides }));
        const n = r.stdout.split('\n').filter(Boolean).length;
        return n === 0 ? ['ok', 'clean'] : ['warn', `${n} modified tracked file(s)`];
      }),
      await check('remote', async () => {
        if (!p.remote) return ['warn', 'no remote configured (pull requests cannot be opened)'];
        // The upload-pack program and ssh command come from the command line, never from the repository's config.
        await runGit(['ls-remote', '--heads', '--upload-pack=git-upload-pack', '--end-of-options', p.remote], inRepo(p.path, { config: ['core.sshCommand=ssh'], timeoutMs: inputs.remoteTimeoutMs ?? 10_000 }));
        return ['ok', `${p.remote} reachable`];
      }),
    );
  }
  checks.push(
    await check('last_session', async () => {
      const s = inputs.lastSession;
      if (!s) return ['ok', 'no session yet'];
      const failed = s.result === 'failed' || s.result === 'error';
      return [failed ? 'warn' : 'ok', `${s.sessionId}: ${s.state}${s.result ? ` (${s.result})` : ''}`];
    }),
    await check('sandbox_image', async () => {
      if (!inputs.imagePresent) return ['warn', 'unknown (the daemon has no image check here)'];
      return (await inputs.imagePresent()) ? ['ok', 'present'] : ['fail', 'missing: run `loki sandbox build`'];
    }),
  );
  const status: CheckStatus = checks.some((c) => c.status === 'fail') ? 'fail' : checks.some((c) => c.status === 'warn') ? 'warn' : 'ok';
  return { status, checks };
}

export interface ProjectSync {
  branches: number;
  lastCommit: string;
  lastCommitSubject: string;
  lastCommitAtMs: number;
  sessionBranches: string[];
}

export async function syncProject(p: Project): Promise<ProjectSync> {
  const heads = (await runGit(['for-each-ref', '--format=%(refname:short)', 'refs/heads/'], inRepo(p.path))).stdout.split('\n').filter(Boolean);
  const log = await runGit(['log', '-1', '--format=%H%x00%ct%x00%s', '--end-of-options', `refs/heads/${p.baseBranch}`], inRepo(p.path, { okExitCodes: [128] }));
  const [sha = '', ct = '0', subject = ''] = log.exitCode === 0 ? log.stdout.trim().split('\0') : [];
  return {
    branches: heads.length,
    lastCommit: sha,
    lastCommitSubject: subject,
    lastCommitAtMs: Number(ct) * 1000,
    sessionBranches: heads.filter((h) => isSessionBranch(h)),
  };
}
