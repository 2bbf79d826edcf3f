// B16 SSE fan-out: one session's events delivered to 1 / 10 / 100 SSE
// subscribers through the real gateway (lokid and loki-gateway as separate
// processes, `loki up`'s shape). A stand-in runner speaks the agent protocol on
// the session's real agent socket and reports events carrying their send time;
// every subscriber is an HTTP client on GET /api/sessions/:id/events?follow=true.
// Prints, per level: events/s delivered (all subscribers together), p50/p99
// delay from the Report call to receipt. The subscribers share this process's
// event loop with the sender, so a figure here is a floor of what the gateway does.
// Subscribers join at the session's current end (`after` = its event count), so a
// level measures live fan-out, not the replay of the earlier levels' events;
// `--from start` replays the whole history to every subscriber first.
// Run: npm run build && npx tsx bench/b16-sse-fanout.ts [--levels 1,10,100] [--events 1000] [--from now|start]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { SessionServiceClient, type Session } from '../proto/gen/loki/v1/sessions.js';
import { AutonomyMode, Provider } from '../proto/gen/loki/v1/vocab.js';
import { StandInRunner } from '../test/daemon/sessions/helpers.js';
import { startStack } from './lib/stack.js';
import { benchRepo } from './lib/repo.js';

const IDLE = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];

function repo(): string {
  return benchRepo('b16f');
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Subscriber {
  connected: Promise<void>;
  done: Promise<void>;
  delays: number[];
  abort(): void;
}

/** One SSE client: counts this level's events (message `b16 <level> <send time>`), records each delay. */
function subscribe(url: string, token: string, level: number, expect: number): Subscriber {
  const ac = new AbortController();
  const delays: number[] = [];
  let onConnected!: () => void;
  let onDone!: () => void;
  const connected = new Promise<void>((r) => (onConnected = r));
  const done = new Promise<void>((r) => (onDone = r));
  const tag = `"message":"b16 ${level} `;
  void (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: ac.signal });
    if (!res.ok || !res.body) throw new Error(`SSE ${res.status}: ${await res.text()}`);
    onConnected();
    const dec = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      const now = performance.now();
      buf += dec.decode(chunk as Uint8Array, { stream: true });
      let at: number;
      while ((at = buf.indexOf(tag)) >= 0) {
        const end = buf.indexOf('"', at + tag.length);
        if (end < 0) break;
        delays.push(now - Number(buf.slice(at + tag.length, end)));
        buf = buf.slice(end);
      }
      if (buf.length > 4096) buf = buf.slice(-4096);
      if (delays.length >= expect) {
        onDone();
        break;
      }
    }
  })().catch((err: unknown) => {
    if (!ac.signal.aborted) process.stderr.write(`subscriber: ${(err as Error).message}\n`);
    onConnected();
    onDone();
  });
  return { connected, done, delays, abort: () => ac.abort() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { levels: { type: 'string', default: '1,10,100' }, events: { type: 'string', default: '1000' }, batch: { type: 'string', default: '10' }, from: { type: 'string', default: 'now' } } });
  const levels = values.levels.split(',').map(Number).filter((n) => n > 0);
  const total = Number(values.events);
  const batch = Math.max(1, Number(values.batch));
  const cfgDir = mkdtempSync(join(tmpdir(), 'b16f-cfg-'));
  const cfg = join(cfgDir, 'config.json');
  // No size-limited workspace: the stack's clean-up removes LOKI_HOME without unmounting.
  writeFileSync(cfg, JSON.stringify({ sandbox: { image: process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest' }, sessions: { runner_command: IDLE, workspace: { max_size: 0 } } }));
  const project = repo();
  const stack = await startStack({ daemonEnv: { LOKI_CONFIG: cfg }, gatewayEnv: { LOKI_RATE_LIMIT_MAX_STREAMS: '100000' }, logLevel: 'warn' });
  const sessions = new SessionServiceClient(`unix:${stack.adminSocket}`, credentials.createInsecure());
  let runner: StandInRunner | undefined;
  let session: Session | undefined;
  const load0 = loadavg();
  try {
    session = await new Promise<Session>((resolve, reject) =>
      sessions.start(
        { prd: '', prompt: 'b16', provider: Provider.PROVIDER_SCRIPT, legacyProvider: '', plan: '- run: "true"\n', profile: '', autonomy: AutonomyMode.AUTONOMY_MODE_PERPETUAL, legacyAutonomy: '', project: '', projectPath: project, model: '', baseUrl: '', maxIterations: 0, network: false, upstream: '' },
        new Metadata(),
        (err, r) => (err ? reject(err) : resolve(r)),
      ),
    );
    runner = new StandInRunner(join(stack.home, 'run', 'agents', session.id, 'agent.sock'));
    await runner.hello();
    const token = await stack.token('b16', 'admin');
    const rows: string[] = [];
    for (const n of levels) {
      const id = session.id;
      const now = await new Promise<Session>((resolve, reject) => sessions.get({ id }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))));
      const url = `${stack.url}/api/sessions/${id}/events?follow=true${values.from === 'start' ? '' : `&after=${now.eventsTotal}`}`;
      const subs = Array.from({ length: n }, () => subscribe(url, token, n, total));
      await Promise.all(subs.map((s) => s.connected));
      await new Promise((r) => setTimeout(r, 300)); // let every replay finish
      const cpu0 = [cpuSeconds(stack.daemon.pid), cpuSeconds(stack.gateway.pid), process.cpuUsage()] as const;
      const t0 = performance.now();
      for (let sent = 0; sent < total; sent += batch) {
        const k = Math.min(batch, total - sent);
        const stamp = performance.now();
        await runner.report(Array.from({ length: k }, () => ({ type: 'message', message: `b16 ${n} ${stamp}` })));
      }
      const sendMs = performance.now() - t0;
      await Promise.race([Promise.all(subs.map((s) => s.done)), new Promise((r) => setTimeout(r, 120_000))]);
      const allMs = performance.now() - t0;
      const self = process.cpuUsage(cpu0[2]);
      const cpu = `CPU s: lokid ${(cpuSeconds(stack.daemon.pid) - cpu0[0]).toFixed(1)}  gateway ${(cpuSeconds(stack.gateway.pid) - cpu0[1]).toFixed(1)}  bench ${((self.user + self.system) / 1e6).toFixed(1)}  over ${(allMs / 1000).toFixed(1)} s`;
      const delays = subs.flatMap((s) => s.delays);
      subs.forEach((s) => s.abort());
      const got = delays.length;
      rows.push(
        `${String(n).padStart(4)} subscribers: ${(got / (allMs / 1000)).toFixed(0).padStart(7)} events/s delivered (${got}/${n * total})  ` +
          `append rate ${(total / (sendMs / 1000)).toFixed(0).padStart(5)} events/s  delay p50 ${pct(delays, 50).toFixed(1).padStart(7)} ms  p99 ${pct(delays, 99).toFixed(1).padStart(7)} ms\n      ${cpu}`,
      );
      await new Promise((r) => setTimeout(r, 500));
    }
    process.stdout.write(`B16 SSE fan-out: ${total} events of one session (Reports of ${batch}) to N subscribers through the gateway\n`);
    for (const r of rows) process.stdout.write(`${r}\n`);
    process.stdout.write(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} cores)\n`);
  } finally {
    runner?.close();
    if (session) {
      await new Promise((r) => sessions.stop({ id: session!.id }, new Metadata(), r));
    }
    sessions.close();
    await stack.stop();
    rmSync(cfgDir, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
  }
}

await main();
