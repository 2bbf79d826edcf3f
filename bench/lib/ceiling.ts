// The architecture's ceiling for an authenticated API read, as separate
// processes: a bare grpc-js server on a unix socket, and a bare Fastify route
// that makes one bare grpc-js unary call to it per request (no auth, no limits,
// no logging, raw bytes instead of protobuf). Plus a bare Fastify hello-world.
// By default grpc-js runs with its defaults (the ceiling as issue 17 defines it);
// `grpcOptions` gives the server and the channel other options (Loki's own, to
// show what the options alone change).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ROOT, freePort } from './stack.js';

// A profiled process (node --cpu-prof) writes its profile only when it exits normally.
const EXIT_ON_SIGTERM = `process.on('SIGTERM', () => process.exit(0));`;

const GRPC_SERVER = `
const grpc = require('@grpc/grpc-js');
const id = (b) => b;
const def = { list: { path: '/bench.Ceiling/List', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
const s = new grpc.Server(JSON.parse(process.argv[2]));
// One byte back per byte in (a batched front sends one per call; the plain one sends none).
s.addService(def, { list: (call, cb) => cb(null, Buffer.alloc(call.request.length)) });
s.bindAsync('unix:' + process.argv[1], grpc.ServerCredentials.createInsecure(), (err) => { if (err) throw err; });
${EXIT_ON_SIGTERM}`;

const FASTIFY_GRPC = `
const grpc = require('@grpc/grpc-js');
const fastify = require('fastify')();
const id = (b) => b;
const Client = grpc.makeGenericClientConstructor({ list: { path: '/bench.Ceiling/List', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } }, 'Ceiling');
const client = new Client('unix:' + process.argv[1], grpc.credentials.createInsecure(), JSON.parse(process.argv[3]));
const empty = Buffer.alloc(0);
fastify.get('/api/sessions', () => new Promise((resolve, reject) => client.list(empty, (err) => (err ? reject(err) : resolve({ sessions: [] })))));
fastify.listen({ host: '127.0.0.1', port: Number(process.argv[2]) });
${EXIT_ON_SIGTERM}`;

// The same front, gathering the calls of one event-loop turn into one bare grpc-js call
// (the request carries one byte per call, the response one byte per call): the limit of
// the architecture once calls are batched the way Loki's gateway does (client/src/grpc/batcher.ts).
const FASTIFY_GRPC_BATCHED = `
const grpc = require('@grpc/grpc-js');
const fastify = require('fastify')();
const id = (b) => b;
const Client = grpc.makeGenericClientConstructor({ list: { path: '/bench.Ceiling/List', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } }, 'Ceiling');
const client = new Client('unix:' + process.argv[1], grpc.credentials.createInsecure(), JSON.parse(process.argv[3]));
let queue = [];
const flush = () => {
  const q = queue;
  queue = [];
  client.list(Buffer.alloc(q.length), (err, res) => q.forEach(([resolve, reject], i) => (err ? reject(err) : res[i] === undefined ? reject(new Error('no result')) : resolve({ sessions: [] }))));
};
fastify.get('/api/sessions', () => new Promise((resolve, reject) => {
  if (queue.push([resolve, reject]) === 1) setImmediate(flush);
}));
fastify.listen({ host: '127.0.0.1', port: Number(process.argv[2]) });
${EXIT_ON_SIGTERM}`;

const FASTIFY_HELLO = `
const fastify = require('fastify')();
fastify.get('/ping', async () => ({ ok: true }));
fastify.listen({ host: '127.0.0.1', port: Number(process.argv[1]) });`;

export interface Ceiling {
  /** GET /api/sessions on bare Fastify + one bare grpc-js call. */
  grpcUrl: string;
  /** GET /ping on bare Fastify. */
  helloUrl: string;
  pids: number[];
  /** SIGKILL by default; SIGTERM lets a profiled process write its profile (resolves once all have exited). */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

export interface CeilingNodeArgs {
  /** Extra node flags for the bare grpc-js server and the Fastify front (e.g. --cpu-prof). */
  server?: string[];
  front?: string[];
}

/** grpc-js options of the bare server and of the front's channel (default: none, grpc-js's defaults). */
export interface CeilingGrpcOptions {
  server?: Record<string, string | number>;
  channel?: Record<string, string | number>;
}

async function ready(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ceiling process exited (${child.exitCode})`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `batched`: the front gathers the calls of one event-loop turn into one grpc-js call. */
export async function startCeiling(dir: string, nodeArgs: CeilingNodeArgs = {}, grpcOptions: CeilingGrpcOptions = {}, batched = false): Promise<Ceiling> {
  const sock = `${dir}/ceiling.sock`;
  const opts = { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] as ('ignore' | 'inherit')[] };
  const server = spawn(process.execPath, [...(nodeArgs.server ?? []), '-e', GRPC_SERVER, sock, JSON.stringify(grpcOptions.server ?? {})], opts);
  while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 20));
  const p1 = await freePort();
  const front = spawn(process.execPath, [...(nodeArgs.front ?? []), '-e', batched ? FASTIFY_GRPC_BATCHED : FASTIFY_GRPC, sock, String(p1), JSON.stringify(grpcOptions.channel ?? {})], opts);
  const p2 = await freePort();
  const hello = spawn(process.execPath, ['-e', FASTIFY_HELLO, String(p2)], opts);
  const grpcUrl = `http://127.0.0.1:${p1}/api/sessions`;
  const helloUrl = `http://127.0.0.1:${p2}/ping`;
  await ready(grpcUrl, front);
  await ready(helloUrl, hello);
  return {
    grpcUrl,
    helloUrl,
    pids: [server.pid!, front.pid!, hello.pid!],
    async stop(signal = 'SIGKILL') {
      const all = [front, hello, server];
      const exited = all.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))));
      for (const c of all) c.kill(signal);
      await Promise.all(exited);
    },
  };
}
