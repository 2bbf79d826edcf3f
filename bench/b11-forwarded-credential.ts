// B11: cost of the daemon verifying the forwarded credential on every gateway
// call. Same real lokid, same gRPC method (SessionService.Metrics over
// gateway.sock), same concurrency: the gateway's own credential-less call
// (no verification) against the same call carrying an API token (hash lookup in
// the token store, folded into the call). Prints calls/s and the ratio.
// Run: npx tsx bench/b11-forwarded-credential.ts [--seconds N] [--concurrency N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { createLogger } from '../common/src/index.js';
import { startDaemon } from '../daemon/src/daemon.js';
import { SessionServiceClient } from '../proto/gen/loki/v1/sessions.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' } } });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

async function load(client: SessionServiceClient, md: () => Metadata): Promise<number> {
  const until = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < until) {
      await new Promise<void>((resolve, reject) => client.metrics({}, md(), (err) => (err ? reject(err) : resolve())));
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done / seconds;
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'loki-b11-'));
  const d = await startDaemon({ home, env: { LOKI_HOME: home }, logger: createLogger({ name: 'b11', level: 'silent' }) });
  const client = new SessionServiceClient(`unix:${d.paths.gatewaySocket}`, credentials.createInsecure());
  try {
    const secret = (await d.tokens.generate({ name: 'b11', role: 'admin', expiresDays: 0, owner: 'bench' })).secret;
    const bare = () => new Metadata();
    const withToken = () => {
      const m = new Metadata();
      m.set('x-loki-credential', secret);
      return m;
    };
    await load(client, bare); // warm-up
    const a = await load(client, bare);
    const b = await load(client, withToken);
    const a2 = await load(client, bare);
    const base = (a + a2) / 2;
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(8);
    process.stdout.write(`B11 gateway-door call with daemon-side credential verification, concurrency ${concurrency}, ${seconds}s per run\n`);
    process.stdout.write(`  no credential (gateway itself):   ${fmt(base)} calls/s (mean of runs before and after)\n`);
    process.stdout.write(`  API token verified by the daemon: ${fmt(b)} calls/s\n`);
    process.stdout.write(`  ratio: ${(b / base).toFixed(2)} (1.0 = verification is free)\n`);
  } finally {
    client.close();
    await d.close();
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
