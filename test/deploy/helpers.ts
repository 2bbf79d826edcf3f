// Shared pieces of the deployment tests: the shipped artifacts' paths, a
// systemd unit reader, a fake NOTIFY_SOCKET, free ports and process helpers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from '../helpers/entry.js';

/** The repository root (test/deploy → ../..; the same from dist/test/deploy's sources). */
export const REPO = ROOT.endsWith('/dist') ? join(ROOT, '..') : ROOT;
export const DEPLOY = join(REPO, 'deploy');

export interface Unit {
  /** `section.Key` → every value, in order (Environment= may repeat). */
  all(key: string): string[];
  get(key: string): string | undefined;
  /** Environment= lines as a map. */
  environment(): Record<string, string>;
}

export function readUnit(path: string): Unit {
  const values = new Map<string, string[]>();
  let section = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1]!;
      continue;
    }
    const i = line.indexOf('=');
    const key = `${section}.${line.slice(0, i)}`;
    values.set(key, [...(values.get(key) ?? []), line.slice(i + 1)]);
  }
  return {
    all: (k) => values.get(k) ?? [],
    get: (k) => values.get(k)?.at(-1),
    environment: () => Object.fromEntries((values.get('Service.Environment') ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
  };
}

interface DgramSocket {
  bind(path: string): void;
  on(event: 'message', f: (buf: Buffer) => void): void;
  on(event: 'error', f: (err: Error) => void): void;
  close(): void;
}

/** A NOTIFY_SOCKET like systemd's: collects every datagram the service sends. */
export function notifySocket(path: string): { messages: string[]; waitFor(re: RegExp, timeoutMs?: number): Promise<string>; close(): void } {
  const req = createRequire(import.meta.url);
  const sock = (req('unix-dgram') as { createSocket(t: 'unix_dgram'): DgramSocket }).createSocket('unix_dgram');
  const messages: string[] = [];
  sock.on('message', (buf) => messages.push(buf.toString()));
  sock.on('error', () => undefined);
  sock.bind(path);
  return {
    messages,
    async waitFor(re, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = messages.find((m) => re.test(m));
        if (hit) return hit;
        if (Date.now() > end) throw new Error(`no notify message matching ${re}; got ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => sock.close(),
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a long-running process, keeping its output for failure messages. */
export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output(): string; stop(sig?: NodeJS.Signals): Promise<number | null> } {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    async stop(sig: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      return exited;
    },
  };
}

/** Polls until fn resolves truthy. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A tool from PATH (apt package) or a clear failure naming the package. */
export function requireTool(tool: string, pkg: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} is not installed; apt-get install ${pkg} (LOKI_SETUP_TEST_DEPS=1 scripts/setup.sh does)`);
  return r.stdout.trim();
}

/** Creates the system users/groups DEPLOYMENT.md tells the operator to create (idempotent). */
export function ensureLokiAccounts(): void {
  const sh = (c: string) => spawnSync('sh', ['-c', c], { encoding: 'utf8' });
  sh('getent group loki-admin >/dev/null || groupadd --system loki-admin');
  sh('getent passwd loki-gateway >/dev/null || useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin loki-gateway');
  if (sh('id -u loki-gateway').status !== 0) throw new Error('could not create the loki-gateway user (the deploy tests run as root, like .ci/run)');
}
