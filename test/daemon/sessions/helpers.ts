// Real parts for session tests: a real git project, a real daemon (in-process)
// with the session feature mounted, real sandboxes, and a stand-in agent-runner
// that speaks the real AgentService protocol over the session's real socket.
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimePaths } from '../../../common/src/index.js';
import { instanceId, type DaemonHandle } from '../../../daemon/src/daemon.js';
import type { Caller } from '../../../daemon/src/authz/caller.js';
import type { RunnerBundle, SandboxDriver } from '../../../daemon/src/sandbox/types.js';
import { defaultSessionsConfig } from '../../../daemon/src/sessions/config.js';
import { createSessionFeature, type SessionFeature } from '../../../daemon/src/sessions/feature.js';
import {
  AgentServiceClient,
  type AgentAction,
  type AgentDecideResponse,
  type AgentEvent,
  type SessionBrief,
} from '../../../proto/gen/loki/v1/agent.js';
import { ROOT, shortTempDir } from '../../helpers/entry.js';
import { healthy, removeHome, startTestDaemon } from '../../helpers/daemon.js';
import { requireImage } from '../../helpers/sandbox.js';
import { agentRunnerBundle } from '../../../daemon/src/agent/runner-bundle.js';
import { TASK_STATUSES, isOneOf } from '../../../common/src/index.js';
import { autonomyCodec, decisionCodec, providerCodec, taskStatusCodec } from '../../../common/src/wire-vocab.js';

export const ADMIN: Caller = { role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: 'test', clientIp: 'local' };

export function gatewayCaller(subject: string, scopes: string[]): Caller {
  return { role: 'gateway', subject, scopes, auth: subject, requestId: 'test', clientIp: '127.0.0.1' };
}

/** A project repository with one commit on main. */
export function makeRepo(): string {
  const dir = shortTempDir('lkp');
  const git = (...a: string[]) => execFileSync('git', a, { cwd: dir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 't@example.invalid');
  writeFileSync(join(dir, 'README.md'), '# project\n');
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'prd.md'), '# PRD\nBuild a hello world.\n');
  git('add', '.');
  git('commit', '-q', '-m', 'initial');
  return dir;
}

/** A container main process that proves it runs: a counter in the workspace (readable from the host even while frozen). */
export const COUNTER_COMMAND = ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /workspace/.loki-counter; sleep 0.1; done'];

export interface SessionDaemon {
  d: DaemonHandle & { home: string; cleanup(): Promise<void> };
  feature: SessionFeature;
  driver: SandboxDriver;
  cleanup(): Promise<void>;
}

export async function startSessionDaemon(
  o: { sessions?: Record<string, unknown>; policy?: Record<string, unknown>; home?: string; runner?: RunnerBundle; overrides?: Record<string, unknown> } = {},
): Promise<SessionDaemon> {
  let feature: SessionFeature | undefined;
  let driver: SandboxDriver | undefined;
  const d = await startTestDaemon({
    ...(o.home ? { home: o.home } : {}),
    // The daemon builds the policy (its composition root): a test's policy goes in as config.
    ...(o.overrides || o.policy ? { overrides: { ...o.overrides, ...(o.policy ? { policy: o.policy } : {}) } } : {}),
    features: (b) => {
      driver = b.driver;
      feature = createSessionFeature({
        ...b,
        sandboxes: b.manager,
        sessions: defaultSessionsConfig({ runner_command: COUNTER_COMMAND, check_interval_ms: 200, stop_grace_seconds: 1, ...o.sessions }),
        ...(o.runner ? { runner: o.runner } : {}),
      });
      return feature;
    },
  });
  return {
    d,
    feature: feature!,
    driver: driver!,
    async cleanup() {
      // Sessions still running at the end of a test: remove their containers (a daemon close leaves them running on purpose).
      for (const s of await feature!.manager.store.list()) {
        if (s.sandboxId) await driver!.remove(s.sandboxId, true).catch(() => undefined);
      }
      await d.cleanup();
    },
  };
}

/** Runs a command in the session's container as the sandbox user (what the runner does after an allow). */
export async function execIn(driver: SandboxDriver, sandboxId: string, script: string): Promise<{ code: number; out: string }> {
  const user = (await driver.get(sandboxId))?.hardening.user || '64000:64000';
  const ex = await driver.exec(sandboxId, { argv: ['/bin/sh', '-c', script], tty: false, cols: 0, rows: 0, env: {}, workdir: '/workspace', user });
  let out = '';
  for await (const c of ex.output) out += c.data.toString();
  return { code: await ex.exitCode(), out };
}

type Cb<T> = (err: ServiceError | null, res: T) => void;

/** The runner's side of the agent socket, as the real runner speaks it. */
export class StandInRunner {
  readonly client: AgentServiceClient;

  constructor(socketPath: string) {
    // A short reconnect backoff keeps the restart test quick; the real runner should use the same (see docs/sessions.md).
    this.client = new AgentServiceClient(`unix:${socketPath}`, credentials.createInsecure(), { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000 });
  }

  /** waitForReady, as the real runner: across a daemon restart calls wait for the re-opened socket. */
  private call<Req, Res>(fn: (req: Req, md: Metadata, opts: object, cb: Cb<Res>) => unknown, req: Req, opts: object = { deadline: Date.now() + 30_000, waitForReady: true }): Promise<Res> {
    return new Promise((resolve, reject) => fn.call(this.client, req, new Metadata(), opts, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res))));
  }

  /** The brief with its enums read back as words; the legacy string fields must say the same (older runners read those). */
  async hello(): Promise<Omit<SessionBrief, 'provider' | 'autonomyMode'> & { provider: string; autonomyMode: string }> {
    const b: SessionBrief = await this.call(this.client.hello, { runnerVersion: 'stand-in', pid: 1 });
    const provider = providerCodec.fromWire(b.provider) ?? '';
    const autonomyMode = autonomyCodec.fromWire(b.autonomyMode) ?? '';
    if (provider !== b.legacyProvider || autonomyMode !== b.legacyAutonomyMode) throw new Error(`brief enum and legacy fields disagree: ${provider}/${b.legacyProvider} ${autonomyMode}/${b.legacyAutonomyMode}`);
    return { ...b, provider, autonomyMode };
  }

  /** The verdict as a word (allow | deny); the legacy string field must say the same. `decideSeq`: the Decide's number (0: none, as older runners). */
  async decide(action: AgentAction['action'], tool = 'test', decideSeq = 0): Promise<Omit<AgentDecideResponse, 'decision'> & { decision: string }> {
    const r: AgentDecideResponse = await this.call(this.client.decide, { action: { action, tool, detail: '' }, events: [], decideSeq }, { waitForReady: true });
    const decision = decisionCodec.fromWire(r.decision) ?? '';
    if (decision !== r.legacyDecision) throw new Error(`decision enum and legacy field disagree: ${decision}/${r.legacyDecision}`);
    return { ...r, decision };
  }

  /** Task statuses as words: a known one goes as the enum, anything else in the legacy field (so bad values reach the daemon's check). */
  report(events: Array<Omit<Partial<AgentEvent>, 'taskStatus' | 'legacyTaskStatus'> & { taskStatus?: string }>): Promise<{ stopRequested: boolean }> {
    const full = events.map(({ taskStatus = '', ...e }) => {
      const known = isOneOf(TASK_STATUSES, taskStatus);
      return { type: 'message', message: '', dataJson: '', iteration: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, taskId: '', agent: '', runnerSeq: 0, ...e, taskStatus: known ? taskStatusCodec.toWire(taskStatus) : 0, legacyTaskStatus: known ? '' : taskStatus };
    });
    return this.call(this.client.report, { events: full });
  }

  heartbeat(iteration: number): Promise<{ stopRequested: boolean }> {
    return this.call(this.client.heartbeat, { iteration });
  }

  close(): void {
    this.client.close();
  }
}

export function agentSocket(d: DaemonHandle, sessionId: string): string {
  return join(d.paths.runDir, 'agents', sessionId, 'agent.sock');
}

/** The same path for a daemon running as its own process on `home`. */
export function agentSocketPath(home: string, sessionId: string): string {
  return join(runtimePaths(home).runDir, 'agents', sessionId, 'agent.sock');
}

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function removeDir(dir: string): void {
  removeHome(dir);
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The directory holding `dist/agent-runner/loki-agent-runner.cjs` (from source: the repo; compiled: dist's parent), if built. */
export function runnerBundleRoot(): string | undefined {
  for (const root of [ROOT, join(ROOT, '..')]) if (existsSync(join(root, 'dist', 'agent-runner', 'loki-agent-runner.cjs'))) return root;
  return undefined;
}

/**
 * Mocha hooks for a suite that runs the real agent-runner bundle in real sandboxes: a project
 * repository and a session daemon, made before the suite (skipped without the bundle; the
 * sandbox image is required) and removed after it. Read them once the suite runs.
 */
export function realRunnerSuite(): { readonly sd: SessionDaemon; readonly repo: string } {
  let sd: SessionDaemon | undefined;
  let repo: string | undefined;
  before(async function () {
    if (!runnerBundleRoot()) this.skip();
    await requireImage();
    repo = makeRepo();
    sd = await startSessionDaemon({ sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'] }, runner: agentRunnerBundle(runnerBundleRoot()!) });
  });
  after(async () => {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });
  return {
    get sd() {
      return sd!;
    },
    get repo() {
      return repo!;
    },
  };
}

/**
 * fixture-lokid.ts as its own process on `home` (for SIGKILL/restart tests), once it serves.
 * `env` reaches the fixture (LOKI_TEST_HANG_AFTER stops a session start at a step); `output()` is what it printed.
 */
export async function spawnFixture(home: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess & { output(): string }> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const js = join(here, 'fixture-lokid.js');
  const argv = existsSync(js) ? [js] : ['--import', 'tsx', join(here, 'fixture-lokid.ts')];
  const child = spawn(process.execPath, [...argv, home], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const admin = runtimePaths(home).adminSocket;
  await until(`the fixture daemon to serve (${out})`, async () => {
    if (child.exitCode !== null) throw new Error(`fixture daemon exited: ${out}`);
    return out.includes('ready') && (await healthy(admin));
  }, 30_000);
  return Object.assign(child, { output: () => out });
}

/** Removes every container the daemon on `home` made (a SIGKILLed daemon leaves its sessions' containers running). Call before deleting `home`. */
/** A fixture lokid started by spawnFixture. */
export type FixtureProcess = Awaited<ReturnType<typeof spawnFixture>>;

/**
 * Mocha hooks for a suite that SIGKILLs the fixture lokid: each test gets a fresh home and
 * repository; afterwards the fixture it left in `child` is killed, the sandboxes its killed
 * daemons left running are removed (by instance label), and both directories go.
 */
export function sigkillSuite(prefix: string): { home: string; repo: string; child: FixtureProcess | undefined } {
  const t: { home: string; repo: string; child: FixtureProcess | undefined } = { home: '', repo: '', child: undefined };
  beforeEach(function () {
    t.home = shortTempDir(prefix);
    t.repo = makeRepo();
    t.child = undefined;
  });
  afterEach(function () {
    t.child?.kill('SIGKILL');
    removeSandboxesOf(t.home);
    removeDir(t.home);
    removeDir(t.repo);
  });
  return t;
}

export function removeSandboxesOf(home: string): void {
  if (!existsSync(home)) return;
  const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=loki.instance=${instanceId(home)}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  if (ids.length) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
}
