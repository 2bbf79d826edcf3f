// Real daemons for tests: in-process (startDaemon) or as a child process
// (for SIGKILL/restart and signal tests), each on its own temp LOKI_HOME.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { credentials, Metadata, type Client } from '@grpc/grpc-js';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, runtimePaths, type RuntimePaths } from '../../common/src/index.js';
import { startDaemon, type DaemonHandle, type StartDaemonOptions } from '../../daemon/src/daemon.js';
import { HealthClient, HealthCheckResponse_ServingStatus } from '../../proto/gen/grpc/health/v1/health.js';
import { entryArgv, shortTempDir } from './entry.js';

export const SANDBOX_IMAGE = process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest';
/** LOKI_TEST_RUNTIME=runsc runs the sandbox and session suites under gVisor (.ci/run does one such pass). */
export const SANDBOX_RUNTIME = process.env.LOKI_TEST_RUNTIME ?? 'runc';

export function quietLogger() {
  return createLogger({ name: 'test', level: process.env.LOKI_TEST_LOG ?? 'silent' });
}

/** Size-limited session workspaces are loop mounts: unmount what lies under `dir`, then delete it. */
export function removeHome(dir: string): void {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let mounts: string[] = [];
  try {
    mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => unescape(l.split(' ')[4] ?? '')).filter((m) => m.startsWith(`${dir}/`));
  } catch {
    // no /proc: nothing this process could have mounted
  }
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * lokid's `audit` settings that let a test flood the log through the gateway's door
 * (to fill a stream's backlog or a large log): the highest audit.gateway_records_* allowed.
 */
export const UNBOUNDED_GATEWAY_RECORDS = { gateway_records_per_second: 100_000, gateway_records_burst: 10_000_000 } as const;

/** Metadata carrying an end user's credential, as the gateway forwards it on lokid's gateway door. */
export function withCredential(secret: string): Metadata {
  const md = new Metadata();
  md.set('x-loki-credential', secret);
  return md;
}

/** Every entry of the daemon's audit log under `home`, oldest first, as written. */
export function auditEntries(home: string): Array<Record<string, unknown> & { details: Record<string, unknown> }> {
  const dir = join(home, 'dashboard', 'audit');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)));
}

export async function startTestDaemon(opts: StartDaemonOptions = {}): Promise<DaemonHandle & { home: string; cleanup(): Promise<void> }> {
  const home = opts.home ?? shortTempDir('lkd');
  const d = await startDaemon({ logger: quietLogger(), env: { PATH: process.env.PATH ?? '' }, ...opts, home, overrides: testOverrides(opts.overrides) });
  return Object.assign(d, {
    home,
    async cleanup() {
      await d.close();
      removeHome(home);
    },
  });
}

/** The test image and runtime, under whatever sandbox keys a test sets itself. */
function testOverrides(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const sandbox = { image: SANDBOX_IMAGE, stop_timeout_seconds: 2, runtime: SANDBOX_RUNTIME, ...((extra.sandbox as Record<string, unknown> | undefined) ?? {}) };
  return { ...extra, sandbox };
}

type Ctor<C> = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object) => C;

export function clientFor<C extends Client>(ctor: Ctor<C>, socket: string): C {
  return new ctor(`unix:${socket}`, credentials.createInsecure());
}

/** Promisified unary call; rejects with the raw ServiceError so tests can check code + metadata. */
export function unaryCall<Req, Res>(
  method: (req: Req, md: Metadata, opts: object, cb: (err: (Error & { code?: number; metadata?: Metadata; details?: string }) | null, res: Res) => void) => unknown,
  req: Req,
  md: Metadata = new Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(req, md, { deadline: Date.now() + 60_000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Every message of a finite server stream, in order; rejects on the stream's error. */
export function collectStream<T>(s: NodeJS.EventEmitter): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    s.on('data', (m: T) => out.push(m));
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}

export function errorCode(err: unknown): string | undefined {
  const v = (err as { metadata?: Metadata }).metadata?.get('x-loki-error-code')[0];
  return typeof v === 'string' ? v : undefined;
}

export interface DaemonProcess {
  child: ChildProcess;
  home: string;
  paths: RuntimePaths;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns a real lokid process and waits until its health service says SERVING. */
export async function spawnDaemon(home: string, env: NodeJS.ProcessEnv = {}, opts: { prefix?: readonly string[] } = {}): Promise<DaemonProcess> {
  // `prefix` runs lokid under another program first (e.g. setpriv with the systemd unit's capabilities).
  const [cmd, ...args] = [...(opts.prefix ?? []), process.execPath, ...entryArgv('daemon'), '--home', home];
  const child = spawn(cmd!, args, {
    env: { PATH: process.env.PATH ?? '', LOKI_SANDBOX_IMAGE: SANDBOX_IMAGE, LOKI_SANDBOX_RUNTIME: SANDBOX_RUNTIME, LOKI_SANDBOX_STOP_TIMEOUT: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const paths = runtimePaths(home);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`lokid exited early (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`lokid did not become healthy:\n${out}`);
    }
    if (existsSync(paths.adminSocket) && (await healthy(paths.adminSocket))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    home,
    paths,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

export function healthy(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = clientFor(HealthClient, socket);
    c.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) => {
      c.close();
      resolve(!err && res?.status === HealthCheckResponse_ServingStatus.SERVING);
    });
  });
}
