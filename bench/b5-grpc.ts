// B5: lokid unary gRPC over the admin unix socket vs a bare node:http JSON
// endpoint on a unix socket, both at concurrency 50, in the same run.
// The gRPC call is grpc.health.v1.Health/Check: it measures the transport and
// the daemon's request path, not Docker (SystemService.GetStatus asks dockerd
// on every call, so its rate is dockerd's, not lokid's).
// Both servers run as child processes so neither shares an event loop with the
// load generator. Goal: ratio ≥ 0.8×. Run: npx tsx bench/b5-grpc.ts [--seconds N]
import { credentials, Metadata } from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { HealthClient } from '../proto/gen/grpc/health/v1/health.js';
import { spawnDaemon } from '../test/helpers/daemon.js';
import { shortTempDir } from '../test/helpers/entry.js';

const CONCURRENCY = 50;

export interface B5Result {
  grpcPerSec: number;
  bareGrpcPerSec: number;
  httpPerSec: number;
  ratio: number;
}

/** Keeps `CONCURRENCY` calls in flight for `seconds`; returns completed calls per second. */
async function closedLoop(seconds: number, once: () => Promise<void>): Promise<number> {
  const warmEnd = Date.now() + 500;
  const worker = async (until: number, count: { n: number }) => {
    while (Date.now() < until) {
      await once();
      count.n++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(warmEnd, { n: 0 })));
  const count = { n: 0 };
  const t0 = process.hrtime.bigint();
  const until = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker(until, count)));
  return count.n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const HTTP_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ status: 'SERVING' });
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
}).listen(process.argv[1], () => process.stdout.write('ready\\n'));`;

// The floor for any grpc-js server: the same Health/Check wire call answered by
// a bare grpc-js server (raw bytes 08 01 = {status: SERVING}), no Loki code at all.
const BARE_GRPC_SERVER = `
const grpc = require('@grpc/grpc-js');
const id = (b) => b;
const def = { check: { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
const s = new grpc.Server();
s.addService(def, { check: (_call, cb) => cb(null, Buffer.from([8, 1])) });
s.bindAsync('unix:' + process.argv[1], grpc.ServerCredentials.createInsecure(), (err) => { if (err) throw err; process.stdout.write('ready\\n'); });`;

async function startServer(script: string, path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`http server exited ${c}`)));
  });
  return child;
}

export async function runB5(seconds: number): Promise<B5Result> {
  const dir = shortTempDir('lk-b5');
  const daemon = await spawnDaemon(join(dir, 'home'), { LOKI_LOG_LEVEL: 'warn' });
  const httpPath = join(dir, 'http.sock');
  const http = await startServer(HTTP_SERVER, httpPath);
  const barePath = join(dir, 'bare-grpc.sock');
  const bare = await startServer(BARE_GRPC_SERVER, barePath);
  try {
    const grpcRate = async (socket: string) => {
      const client = new HealthClient(`unix:${socket}`, credentials.createInsecure());
      const md = new Metadata();
      const rate = await closedLoop(seconds, () =>
        new Promise<void>((resolve, reject) => client.check({ service: '' }, md, (err) => (err ? reject(err) : resolve()))),
      );
      client.close();
      return rate;
    };
    const grpcPerSec = await grpcRate(daemon.paths.adminSocket);
    const bareGrpcPerSec = await grpcRate(barePath);

    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const httpPerSec = await closedLoop(seconds, () =>
      new Promise<void>((resolve, reject) => {
        const req = request({ socketPath: httpPath, path: '/health', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => {
            JSON.parse(text);
            resolve();
          });
        });
        req.on('error', reject);
        req.end('{"service":""}');
      }),
    );
    agent.destroy();
    return { grpcPerSec, bareGrpcPerSec, httpPerSec, ratio: grpcPerSec / httpPerSec };
  } finally {
    http.kill();
    bare.kill();
    await daemon.stop();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
  const r = await runB5(Number(values.seconds));
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(`B5 unary over a unix socket, concurrency ${CONCURRENCY}, ${values.seconds}s each`);
  console.log(`  lokid gRPC Health/Check : ${f(r.grpcPerSec)} req/s`);
  console.log(`  bare grpc-js Health     : ${f(r.bareGrpcPerSec)} req/s (the grpc-js floor; lokid/bare = ${(r.grpcPerSec / r.bareGrpcPerSec).toFixed(2)}x)`);
  console.log(`  bare node:http JSON     : ${f(r.httpPerSec)} req/s`);
  console.log(`  ratio gRPC/http         : ${r.ratio.toFixed(2)}x (goal >= 0.8x)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
