// `loki up`: runs lokid and loki-gateway together for local use with embedded
// defaults (state under $LOKI_HOME, default ~/.loki) and stops both on Ctrl-C.
// It says "ready" only once both of ITS OWN processes answer: a port or socket
// already taken by something else is refused before anything starts, because a
// probe would otherwise be answered by that other process.
// This process only supervises, for as long as Loki runs: it imports node's own
// modules and the smallest parts of common/ (no commander, no client, no gRPC
// library, no logger), so its resident memory stays near a bare node process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { LokiError } from '../../../common/src/errors.js';
import { runtimePaths } from '../../../common/src/paths.js';
import { onInterrupt } from '../output.js';
import { grpcHealthServing } from './health.js';

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const printLine = (line = '') => void process.stdout.write(line + '\n');

/** node argv for a sibling entry point: compiled `.js`, or `.ts` through tsx when running from source. */
function entry(relJs: string): string[] {
  const js = here(relJs);
  if (existsSync(js)) return [js];
  return ['--import', 'tsx', js.replace(/\.js$/, '.ts')];
}

/**
 * V8 flags for the children. V8 grows the young generation to its 16 MB-per-semi-space
 * maximum while a process starts and keeps it committed while idle; a smaller cap is
 * most of what separates an idle Node server from a busy one. lokid does little
 * per request, so its cap is small; the gateway keeps room for a busy event loop
 * (docs/performance.md has both the idle RSS and the P1 cost). NODE_OPTIONS still
 * applies; these come after it, so they win for the same flag.
 */
export const CHILD_NODE_FLAGS: Readonly<Record<'daemon' | 'gateway', readonly string[]>> = {
  daemon: ['--max-semi-space-size=2'],
  gateway: ['--max-semi-space-size=8'],
};

/** The glibc malloc setting `loki up` gives its children (see childEnv). */
export const CHILD_MALLOC_TUNABLE = 'glibc.malloc.arena_max=1';

/**
 * The children's environment: `env` plus one glibc malloc arena. By default glibc
 * gives each thread that allocates (V8's compiler and GC helpers, libuv's pool)
 * an arena of its own, and what startup freed in them stays resident while the
 * server idles (≈ 5 MB in the gateway); one shared arena reuses it. lokid and the
 * gateway allocate almost only on their main thread, and an A/B run of P1
 * (bench/memory-flags.ts) showed no CPU cost. A GLIBC_TUNABLES that already sets
 * arena_max is left alone; other tunables are kept. Non-glibc systems ignore it.
 */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const t = env.GLIBC_TUNABLES;
  if (t && /(^|:)glibc\.malloc\.arena_max=/.test(t)) return env;
  return { ...env, GLIBC_TUNABLES: t ? `${t}:${CHILD_MALLOC_TUNABLE}` : CHILD_MALLOC_TUNABLE };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** True when a lokid answers on the admin socket (gRPC health: SERVING). */
export function adminSocketServing(socket: string, timeoutMs: number): Promise<boolean> {
  return existsSync(socket) ? grpcHealthServing(socket, timeoutMs) : Promise.resolve(false);
}

async function waitDaemon(socket: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // lokid exits 2 when it refuses its config (or arguments): that is the caller's to fix, exit 2 here too.
    if (exited(child) && child.exitCode === 2) throw new LokiError('invalid_config', 'lokid refused its configuration (every problem is listed above)');
    if (exited(child)) throw new LokiError('daemon_unavailable', `lokid exited with code ${child.exitCode ?? child.signalCode} during startup (see its output above)`);
    if (Date.now() > deadline) throw new LokiError('daemon_unavailable', `lokid did not become healthy within ${timeoutMs / 1000}s`);
    if (await adminSocketServing(socket, 1000)) return;
    await sleep(150);
  }
}

/**
 * One GET; TLS is checked for being served, not for whose certificate it is (our own child on this host).
 * node:http(s) rather than fetch: fetch would load undici into this long-lived process for a startup probe.
 */
function probe(url: string): Promise<number> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitGateway(base: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Like lokid: exit 2 is a configuration the gateway refused (metrics.listen, TLS, OIDC …), the caller's to fix.
    if (exited(child) && child.exitCode === 2) throw new LokiError('invalid_config', 'loki-gateway refused its configuration (every problem is listed above)');
    if (exited(child)) throw new LokiError('unavailable', `loki-gateway exited with code ${child.exitCode ?? child.signalCode} during startup (see its output above)`);
    // Ready, not just live: the gateway answers and reaches the daemon.
    if ((await probe(`${base}/healthz/ready`)) === 200) return;
    if (Date.now() > deadline) throw new LokiError('unavailable', `loki-gateway did not answer ${base}/healthz/ready within ${timeoutMs / 1000}s`);
    await sleep(150);
  }
}

/** How a child ended, for a person: `exited with code 3`, `was killed by SIGKILL`. */
export function howEnded(code: number | null, signal: NodeJS.Signals | null): string {
  return code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'a signal'}`;
}

/** Fails fast when host:port is taken, instead of probing whoever holds it. */
function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new LokiError('conflict', `port ${port} on ${host} is already in use; stop what holds it or pick another with --port (or LOKI_API_PORT)`));
      else if (err.code === 'EACCES') reject(new LokiError('permission_denied', `not allowed to bind ${host}:${port}; pick a port above 1023 with --port`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new LokiError('invalid_argument', `${host} is not an address of this machine (--host / LOKI_API_HOST)`));
      else reject(new LokiError('unavailable', `cannot bind ${host}:${port} (${err.code ?? err.message})`));
    });
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || exited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface UpOptions {
  host?: string;
  port?: number;
  gateway: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** A port option or LOKI_API_PORT: an integer 0-65535. */
export function parsePort(value: string): number {
  const n = /^\d{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n > 65535) throw new LokiError('invalid_argument', `expected a port from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

/** Flags, then LOKI_API_HOST/LOKI_API_PORT/LOKI_TLS_CERT/LOKI_TLS_KEY, then defaults. */
export function resolveUp(o: UpOptions, env: NodeJS.ProcessEnv = process.env): { host: string; port: number; cert?: string; key?: string } {
  const host = o.host ?? (env.LOKI_API_HOST || '127.0.0.1');
  const port = o.port ?? (env.LOKI_API_PORT ? parsePort(env.LOKI_API_PORT) : 57374);
  const cert = o.tlsCert ?? (env.LOKI_TLS_CERT || undefined);
  const key = o.tlsKey ?? (env.LOKI_TLS_KEY || undefined);
  if (Boolean(cert) !== Boolean(key)) throw new LokiError('invalid_argument', 'TLS needs both a certificate and a key (--tls-cert and --tls-key, or LOKI_TLS_CERT and LOKI_TLS_KEY)');
  for (const f of [cert, key]) if (f && !existsSync(f)) throw new LokiError('invalid_argument', `no such file: ${f}`);
  return { host, port, ...(cert && key ? { cert, key } : {}) };
}

/**
 * What `loki up` says about the bootstrap admin token it just made. The secret is
 * shown only to a terminal: a pipe or a file (CI logs, `nohup.out`, journald,
 * `| tee`) keeps what it is given for whoever reads that log later, so there only
 * the 0600 file's path and how to use it are printed.
 */
export function firstRunTokenNotice(file: string, secret: string, terminal: boolean, gateway?: { url: string; cert?: string }): string[] {
  if (terminal) {
    return [
      '\nFirst run: created an admin API token for the gateway.',
      `Token:   ${secret}`,
      `Saved to ${file} (mode 0600) for the local CLI.`,
      "IMPORTANT: Save this token - it won't be shown again!\n",
    ];
  }
  const lines = [
    '\nFirst run: created an admin API token for the gateway (local-admin).',
    `It is in ${file} (mode 0600, readable only by you); not printed here because this output is not a terminal.`,
  ];
  if (gateway) {
    const ca = gateway.cert ? { loki: ` --ca-file ${gateway.cert}`, curl: ` --cacert ${gateway.cert}` } : { loki: '', curl: '' };
    lines.push(
      'Use it with:',
      `  loki --url ${gateway.url}${ca.loki} --token-file ${file} status`,
      `  printf 'Authorization: Bearer %s\\n' "$(cat ${file})" | curl${ca.curl} -H @- ${gateway.url}/api/status`,
    );
  }
  return [...lines, ''];
}

/** Starts lokid (and the gateway), reports readiness, and supervises both until a signal; never returns. */
export async function runUp(o: UpOptions, home: string): Promise<never> {
  const paths = runtimePaths(home);
  const net = resolveUp(o);
  if (await adminSocketServing(paths.adminSocket, 1000)) {
    throw new LokiError('conflict', `another lokid already serves ${paths.adminSocket}; stop it first (or use another --home)`);
  }
  if (o.gateway) await checkPortFree(net.host, net.port);
  const env = childEnv({ ...process.env, LOKI_HOME: home });
  const hadToken = existsSync(paths.cliTokenFile);
  const url = `${net.cert ? 'https' : 'http'}://${net.host.includes(':') ? `[${net.host}]` : net.host}:${net.port}`;
  const daemon = spawn(process.execPath, [...CHILD_NODE_FLAGS.daemon, ...entry('../../../daemon/src/main.js')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  let gateway: ChildProcess | undefined;
  let shuttingDown = false;
  let ready = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    printLine('\nstopping loki-gateway and lokid…');
    await stopChild(gateway, 10_000);
    await stopChild(daemon, 15_000);
    process.exit(code);
  };
  // Replace the CLI's plain Ctrl-C exit: stop the children first, then exit 130.
  process.off('SIGINT', onInterrupt);
  process.on('SIGINT', () => void shutdown(130));
  process.on('SIGTERM', () => void shutdown(143));
  // `kill -HUP` on loki up reloads both, as on each of them; node's default (exit) stopped this
  // supervisor and left lokid and the gateway running without it.
  process.on('SIGHUP', () => {
    for (const c of [daemon, gateway]) if (c && !exited(c)) c.kill('SIGHUP');
  });
  daemon.on('exit', (code, signal) => {
    if (!shuttingDown && ready) {
      // Sessions whose sandboxes still run re-attach when lokid is started again (docs/sessions.md, Restart).
      process.stderr.write(`loki: lokid ${howEnded(code, signal)}; stopping the gateway (run \`loki up\` again: running sessions re-attach)\n`);
      void shutdown(code || 1);
    }
  });
  try {
    await waitDaemon(paths.adminSocket, daemon, 30_000);
    printLine(`lokid ready (admin socket ${paths.adminSocket})`);
    if (!hadToken && existsSync(paths.cliTokenFile)) {
      const secret = readFileSync(paths.cliTokenFile, 'utf8').trim();
      for (const line of firstRunTokenNotice(paths.cliTokenFile, secret, process.stdout.isTTY === true, o.gateway ? { url, cert: net.cert } : undefined)) printLine(line);
    }
    if (o.gateway) {
      const genv: NodeJS.ProcessEnv = { ...env, LOKI_DAEMON_SOCKET: paths.gatewaySocket, LOKI_API_HOST: net.host, LOKI_API_PORT: String(net.port) };
      if (net.cert && net.key) Object.assign(genv, { LOKI_TLS_CERT: net.cert, LOKI_TLS_KEY: net.key });
      gateway = spawn(process.execPath, [...CHILD_NODE_FLAGS.gateway, ...entry('../../../gateway/src/main.js')], { env: genv, stdio: ['ignore', 'inherit', 'inherit'] });
      gateway.on('exit', (code, signal) => {
        if (!shuttingDown && ready) {
          process.stderr.write(`loki: loki-gateway ${howEnded(code, signal)}; stopping lokid\n`);
          void shutdown(code || 1);
        }
      });
      await waitGateway(url, gateway, 30_000);
      printLine(`loki-gateway ready at ${url}${net.cert ? ' (TLS)' : ''}`);
    }
    if (exited(daemon)) throw new LokiError('daemon_unavailable', `lokid exited with code ${daemon.exitCode ?? daemon.signalCode} during startup`);
    ready = true;
    printLine('Loki is up. Press Ctrl-C to stop.');
  } catch (err) {
    shuttingDown = true;
    await stopChild(gateway, 5000);
    await stopChild(daemon, 5000);
    throw err;
  }
  return new Promise<never>(() => undefined);
}
