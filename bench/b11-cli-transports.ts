// B11: `loki sessions list --all --json` over the gateway (HTTP transport)
// against the admin socket (gRPC transport): same daemon, same data, wall time
// of the real CLI process, runs interleaved. Also the per-call cost of each
// transport inside one process (no Node start-up). Prints medians, p95 and ratios.
// Run: npm run build && node dist/bench/b11-cli-transports.js [--runs 50] [--sessions 5] [--calls 300]
import { execFile } from 'node:child_process';
import Fastify from 'fastify';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectAdminSocket } from '../client/src/grpc/index.js';
import { createHttpClient } from '../client/src/http/index.js';
import type { LokiClient } from '../client/src/index.js';
import { makeRepo, removeDir, startSessionDaemon } from '../test/daemon/sessions/helpers.js';
import { buildTestGateway, generateToken } from '../test/gateway/helpers.js';
import { entryArgv } from '../test/helpers/entry.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '50' }, sessions: { type: 'string', default: '5' }, calls: { type: 'string', default: '300' }, seconds: { type: 'string', default: '5' } } });

/** wrk in its own process (the load generator must not share this event loop, which serves both targets); requests/s. */
async function wrk(url: string, headers: Record<string, string>): Promise<number> {
  const args = ['-t1', '-c10', `-d${values.seconds}s`, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  const out = await new Promise<string>((resolve, reject) => execFile('wrk', args, { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`no Requests/sec in wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return Number(m[1]);
}
const runs = Number(values.runs);
const calls = Number(values.calls);

function cli(args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [...entryArgv('cli'), ...args], { env: { PATH: process.env.PATH ?? '', LOKI_CONFIG_DIR: '/nonexistent' } }, (err) =>
      err ? reject(err) : resolve(Number(process.hrtime.bigint() - t0) / 1e6),
    ),
  );
}

function stats(ms: number[]): { median: number; p95: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95) };
}

async function perCall(c: LokiClient, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await c.sessions.list({ all: true });
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

const fmt = (x: { median: number; p95: number }) => `median ${x.median.toFixed(2)} ms, p95 ${x.p95.toFixed(2)} ms`;

async function main(): Promise<void> {
  const repo = makeRepo();
  const dir = mkdtempSync(join(tmpdir(), 'loki-b11-'));
  const sd = await startSessionDaemon();
  const gw = await buildTestGateway({ socket: sd.d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 1_000_000, burst: 1_000_000, unauthenticated_per_minute: 1_000_000 } } });
  try {
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'bench' });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, (await generateToken(sd.d.paths.adminSocket, { name: 'bench', role: 'admin' })).secret);
    chmodSync(tokenFile, 0o600);
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;

    // The same data for both: a few sessions, stopped so the list is stable.
    const admin = connectAdminSocket({ socketPath: sd.d.paths.adminSocket });
    for (let i = 0; i < Number(values.sessions); i++) {
      const s = await admin.sessions.start({ prompt: `bench ${i}`, provider: 'script', plan: '[]', project: 'demo' });
      await admin.sessions.stop(s.id).catch(() => undefined);
    }
    const http = createHttpClient({ url, token: readFileSync(tokenFile, 'utf8').trim() });
    const n = (await admin.sessions.list({ all: true })).length;
    console.log(`B11: ${n} sessions; ${runs} CLI runs per transport (interleaved), ${calls} in-process calls per transport`);

    const local = ['--socket', sd.d.paths.adminSocket, 'sessions', 'list', '--all', '--json'];
    const remote = ['--url', url, '--token-file', tokenFile, 'sessions', 'list', '--all', '--json'];
    await cli(local);
    await cli(remote);
    const a: number[] = [];
    const g: number[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(await cli(local));
      g.push(await cli(remote));
    }
    const sa = stats(a);
    const sg = stats(g);
    console.log(`  CLI over the admin socket (gRPC): ${fmt(sa)}`);
    console.log(`  CLI over the gateway (HTTP):      ${fmt(sg)}`);
    console.log(`  ratio gateway/admin: median ${(sg.median / sa.median).toFixed(2)}x, p95 ${(sg.p95 / sa.p95).toFixed(2)}x`);

    await perCall(admin, 20);
    await perCall(http, 20);
    const ca = stats(await perCall(admin, calls));
    const ch = stats(await perCall(http, calls));
    console.log(`  in-process sessions.list over gRPC (admin socket): ${fmt(ca)}`);
    console.log(`  in-process sessions.list over HTTP (gateway):      ${fmt(ch)}`);
    console.log(`  ratio HTTP/gRPC per call: median ${(ch.median / ca.median).toFixed(2)}x, p95 ${(ch.p95 / ca.p95).toFixed(2)}x`);
    admin.close();
    http.close();

    if (existsSync('/usr/bin/wrk')) {
      // The HTTP transport's server side per call: GET /api/sessions (auth, rate limit, one daemon round trip)
      // against B1's baseline, a bare Fastify hello-world, measured now on the same machine.
      const bare = Fastify();
      bare.get('/', async () => ({ hello: 'world' }));
      await bare.listen({ host: '127.0.0.1', port: 0 });
      const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/`;
      const token = readFileSync(tokenFile, 'utf8').trim();
      const rb = await wrk(bareUrl, {});
      const rg = await wrk(`${url}/api/sessions?all=true`, { authorization: `Bearer ${token}` });
      await bare.close();
      console.log(`  wrk -c10 ${values.seconds}s: bare Fastify ${rb.toFixed(0)} req/s, gateway GET /api/sessions?all=true ${rg.toFixed(0)} req/s, ratio ${(rg / rb).toFixed(2)}x`);
    } else {
      console.log('  wrk not installed: skipped the GET /api/sessions vs bare Fastify part');
    }
  } finally {
    await gw.close();
    await sd.cleanup();
    removeDir(repo);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
