// Bench harness: the real `loki up` shape (lokid and loki-gateway as separate
// node processes from dist/, on a temp LOKI_HOME) and wrk as the external load
// generator. Benches print ratios measured in the same run; nothing here asserts.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata } from '@grpc/grpc-js';
import { CHILD_NODE_FLAGS } from '../../cli/src/up/supervisor.js';
import { TokenServiceClient, type GenerateTokenResponse } from '../../proto/gen/loki/v1/tokens.js';
import { stopChild } from '../../cli/src/up/supervisor.js';
import { freePort } from '../../test/helpers/ports.js';

/** Repository root (this file runs as dist/bench/lib/stack.js or bench/lib/stack.ts under tsx). */
export const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();
export const DIST = join(ROOT, 'dist');

export function requireWrk(): string {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk --version exits 1 after printing; only a missing binary throws ENOENT.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      process.stderr.write('wrk is not installed (apt-get install wrk); benches use it as the external load generator\n');
      process.exit(2);
    }
  }
  return 'wrk';
}

// A free loopback port, within LOKI_TEST_PORTS=FROM-TO when set (a machine shared by several runs).
export { freePort };

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

function ms(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Runs wrk (a separate process) against `url` and parses its report. */
export function wrk(url: string, o: { threads?: number; connections?: number; seconds?: number; headers?: Record<string, string>; script?: string } = {}): Promise<WrkResult> {
  const args = ['-t', String(o.threads ?? 1), '-c', String(o.connections ?? 50), '-d', `${o.seconds ?? 5}s`, '--latency', '--timeout', '10s'];
  if (o.script) args.push('-s', o.script);
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(url);
  return new Promise((resolveP, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.on('error', reject);
    p.on('exit', () => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
      const p50 = /\s50%\s+(\S+)/.exec(out)?.[1];
      const p99 = /\s99%\s+(\S+)/.exec(out)?.[1];
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
      if (Number.isNaN(rps)) return reject(new Error(`could not parse wrk output:\n${out}`));
      resolveP({ rps, p50ms: p50 ? ms(p50) : NaN, p99ms: p99 ? ms(p99) : NaN, requests, non2xx, errors });
    });
  });
}

export function fmt(r: WrkResult): string {
  const bad = r.non2xx + r.errors;
  return `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50ms.toFixed(2).padStart(7)} ms  p99 ${r.p99ms.toFixed(2).padStart(7)} ms${bad ? `  (${bad} non-2xx/errors!)` : ''}`;
}

function waitFor(what: string, cond: () => boolean | Promise<boolean>, child: ChildProcess, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  return (async () => {
    while (!(await cond())) {
      if (child.exitCode !== null) throw new Error(`${what}: process exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`${what}: not ready within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

export interface Stack {
  home: string;
  url: string;
  adminSocket: string;
  gatewaySocket: string;
  daemon: ChildProcess;
  gateway: ChildProcess;
  /** Generates a token over the admin socket (role viewer unless told). */
  token(name: string, role?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra env for the gateway (limits are raised by default: a bench measures the path, not the limiter's refusals). */
  gatewayEnv?: Record<string, string>;
  daemonEnv?: Record<string, string>;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=…'] (after the V8 flags `loki up` gives each child). */
  gatewayNodeArgs?: string[];
  daemonNodeArgs?: string[];
  /** Gateway and daemon log level (default info: one JSON line per request, as in production, to /dev/null). */
  logLevel?: string;
}

/** lokid + loki-gateway as `loki up` runs them: two node processes (with its V8 flags), gateway.sock between them. */
export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const home = mkdtempSync(join(tmpdir(), 'lkb-'));
  const run = join(home, 'run');
  const adminSocket = join(run, 'admin.sock');
  const gatewaySocket = join(run, 'gateway.sock');
  const level = o.logLevel ?? 'info';
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOKI_HOME: home, LOKI_LOG_LEVEL: level, LOKI_LOG_FORMAT: 'json' };
  const daemon = spawn(process.execPath, [...CHILD_NODE_FLAGS.daemon, ...(o.daemonNodeArgs ?? []), join(DIST, 'daemon/src/main.js')], {
    env: { ...base, ...(o.daemonEnv ?? {}) },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  await waitFor('lokid', () => existsSync(gatewaySocket) && existsSync(adminSocket), daemon);
  const port = await freePort();
  const gateway = spawn(process.execPath, [...CHILD_NODE_FLAGS.gateway, ...(o.gatewayNodeArgs ?? []), join(DIST, 'gateway/src/main.js'), '--host', '127.0.0.1', '--port', String(port)], {
    env: {
      ...base,
      LOKI_DAEMON_SOCKET: gatewaySocket,
      LOKI_RATE_LIMIT_PER_MINUTE: '1000000000',
      LOKI_RATE_LIMIT_BURST: '1000000000',
      LOKI_RATE_LIMIT_CONCURRENCY: '10000',
      ...(o.gatewayEnv ?? {}),
    },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('loki-gateway', () => httpOk(`${url}/healthz/live`), gateway);
  return {
    home,
    url,
    adminSocket,
    gatewaySocket,
    daemon,
    gateway,
    token: (name, role = 'viewer') => generateToken(adminSocket, name, role),
    async stop() {
      await stopChild(gateway, 10_000);
      await stopChild(daemon, 15_000);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export async function generateToken(adminSocket: string, name: string, role: string): Promise<string> {
  const tc = new TokenServiceClient(`unix:${adminSocket}`, credentials.createInsecure());
  try {
    const r = await new Promise<GenerateTokenResponse>((resolveP, reject) =>
      tc.generate({ name, role, scopes: [], expiresDays: 1 }, new Metadata(), (err, res) => (err ? reject(err) : resolveP(res))),
    );
    return r.secret;
  } finally {
    tc.close();
  }
}

/** Resident set size of a process in MB (from /proc; Linux only). */
export function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used so far, in ms (from /proc; Linux only). */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

export function resolveFromRoot(...p: string[]): string {
  return resolve(ROOT, ...p);
}
