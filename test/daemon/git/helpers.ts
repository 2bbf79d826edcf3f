// Real git repositories in temp dirs for the git feature tests, plus a way to
// act as the agent: git run as the sandbox uid (64000) on the workspace, or
// inside a real container when the sandbox image exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../../common/src/index.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { defaultGitConfig, type GitConfig } from '../../../daemon/src/git/config.js';
import { ProjectRegistry } from '../../../daemon/src/git/projects.js';
import { AgentTrail } from '../../../daemon/src/git/trail.js';
import { WorkspaceManager } from '../../../daemon/src/git/workspaces.js';

export const SANDBOX_IMAGE = 'loki-sandbox:latest';
const IDENTITY = { GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function silentLogger(): Logger {
  return createLogger({ name: 'test', level: 'silent' });
}

export function tempDir(prefix = 'loki-git-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...IDENTITY, ...extra };
}

/** git as the test (the operator on the host). */
export function hostGit(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** git as the agent: the sandbox uid on the host, with only the workspace's own config. */
export function agentGit(ws: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd: ws,
    env: cleanEnv({ GIT_AUTHOR_NAME: 'Loki Agent', GIT_COMMITTER_NAME: 'Loki Agent' }),
    encoding: 'utf8',
    ...(isRoot ? { uid: 64000, gid: 64000 } : {}),
  });
  if (r.status !== 0) throw new Error(`agent git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Writes a file as the agent (so it is owned by the sandbox uid). */
export function agentWrite(path: string, content: string, mode = 0o644): void {
  const r = spawnSync(process.execPath, ['-e', 'require("fs").writeFileSync(process.argv[1], process.argv[2], { mode: Number(process.argv[3]) })', path, content, String(mode)], {
    ...(isRoot ? { uid: 64000, gid: 64000 } : {}),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`agent write ${path} failed: ${r.stderr}`);
}

/** Undefined when the sandbox image can run git; otherwise why not (the only reason sandbox tests skip). */
export function sandboxUnavailableReason(): string | undefined {
  if (spawnSync('docker', ['image', 'inspect', SANDBOX_IMAGE], { stdio: 'ignore' }).status !== 0) return `sandbox image ${SANDBOX_IMAGE} is not built`;
  const r = spawnSync('docker', ['run', '--rm', '--network', 'none', SANDBOX_IMAGE, 'git', '--version'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return `sandbox image ${SANDBOX_IMAGE} cannot run git yet (${(r.stderr || '').trim().split('\n')[0]})`;
  return undefined;
}

/** A shell script inside a real sandbox container with only the workspace mounted (no network, uid 64000). */
export function sandboxSh(ws: string, script: string): string {
  const env = Object.entries(IDENTITY).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const r = spawnSync('docker', ['run', '--rm', '--network', 'none', '-u', '64000:64000', '-v', `${ws}:/workspace`, '-w', '/workspace', ...env, SANDBOX_IMAGE, 'sh', '-ec', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`sandbox script failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** A non-bare repo on `main` with two commits. */
export function makeProject(root: string, name = 'proj'): string {
  const dir = join(root, name);
  execFileSync('git', ['init', '--quiet', '-b', 'main', dir], { env: cleanEnv() });
  writeFileSync(join(dir, 'README.md'), '# demo\n');
  hostGit(dir, 'add', 'README.md');
  hostGit(dir, 'commit', '--quiet', '-m', 'initial');
  writeFileSync(join(dir, 'app.js'), 'console.log(1);\n');
  hostGit(dir, 'add', 'app.js');
  hostGit(dir, 'commit', '--quiet', '-m', 'add app');
  return dir;
}

/** Every ref with its value, plus HEAD: equal snapshots mean the repo's refs are byte-for-byte unchanged. */
export function refSnapshot(repo: string): string {
  return [hostGit(repo, 'for-each-ref', '--format=%(refname) %(objectname)'), hostGit(repo, 'symbolic-ref', 'HEAD'), hostGit(repo, 'rev-parse', 'HEAD')].join('\n');
}

export interface GitFixture {
  root: string;
  home: string;
  store: SqliteStore;
  projects: ProjectRegistry;
  trail: AgentTrail;
  workspaces: WorkspaceManager;
  close(): void;
}

export function gitFixture(opts: { config?: GitConfig; env?: NodeJS.ProcessEnv; clock?: () => number; branchRandom?: () => string } = {}): GitFixture {
  const root = tempDir();
  const home = join(root, 'home');
  // The agent (the sandbox uid 64000 on the host in these tests) must be able to reach its
  // workspace; in production the sandbox gets it through a bind mount instead.
  chmodSync(root, 0o711);
  mkdirSync(join(home, 'workspaces'), { recursive: true, mode: 0o711 });
  const store = openSqliteStore(join(home, 'state', 'loki.db'));
  const log = silentLogger();
  const projects = new ProjectRegistry({ repo: store.projects, log });
  const trail = new AgentTrail({ dir: join(home, 'state', 'trails') });
  const workspaces = new WorkspaceManager({
    repo: store.workspaces,
    projects,
    trail,
    log,
    workspacesDir: join(home, 'workspaces'),
    config: opts.config ?? defaultGitConfig(),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.branchRandom ? { branchRandom: opts.branchRandom } : {}),
  });
  return {
    root,
    home,
    store,
    projects,
    trail,
    workspaces,
    close() {
      store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Holds the first `n` calls of `obj[method]` until all `n` have arrived, then lets them run on:
 * concurrent callers all pass that (async) check before any of them writes, the interleaving a
 * race needs. Later calls go straight through.
 */
export function arriveTogether<T extends object>(obj: T, method: keyof T, n: number): void {
  const real = (obj[method] as (...args: unknown[]) => Promise<unknown>).bind(obj);
  const waiting: Array<() => void> = [];
  let arrived = 0;
  (obj as Record<keyof T, unknown>)[method] = async (...args: unknown[]) => {
    if (arrived < n) {
      arrived++;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === n) for (const w of waiting) w();
      });
    }
    return real(...args);
  };
}
