// Profiles GET /api/sessions through gateway + daemon under wrk: both processes run
// with --cpu-prof and write .cpuprofile files (open them in Chrome DevTools or
// speedscope) into --out; a summary of the heaviest functions is printed as self
// time per 1,000 requests, counted only over the measured wrk run (start-up,
// warm-up and shutdown are left out, so the figures add up to what one request
// costs). With --ceiling, the architecture's ceiling (bare Fastify front + bare
// grpc-js server, bench/lib/ceiling.ts) is profiled the same way right after, so
// what Loki pays beyond it can be read side by side.
// Run: npm run build && node dist/bench/profile-api.js [--seconds N] [--out DIR (default $TMPDIR/loki-profiles)] [--top 25] [--ceiling]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startCeiling } from './lib/ceiling.js';
import { fmt, requireWrk, startStack, wrk, type WrkResult } from './lib/stack.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    out: { type: 'string', default: join(tmpdir(), 'loki-profiles') },
    path: { type: 'string', default: '/api/sessions' },
    top: { type: 'string', default: '25' },
    ceiling: { type: 'boolean', default: false },
  },
});

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

/** The measured run, in microseconds of the monotonic clock V8's profiler stamps samples with. */
interface Window {
  fromUs: number;
  toUs: number;
  requests: number;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function frameKey(f: Node['callFrame']): string {
  const url = f.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '');
  return `${f.functionName || '(anonymous)'} ${url}:${f.lineNumber + 1}`;
}

/** Where a frame's code lives, for the coarse split (own code, grpc-js, node's http2, …). */
function area(f: Node['callFrame']): string {
  const u = f.url;
  if (!u) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1];
  if (pkg) return pkg;
  if (u.startsWith('node:')) return u.replace(/^node:internal\/([^/]+).*$/, 'node:$1').replace(/^node:([a-z_]+).*$/, 'node:$1');
  const own = /\/dist\/([^/]+\/src\/[^/]+|proto\/gen)/.exec(u)?.[1];
  return own ?? u;
}

/** Self time per function (and per area) over the window, in ms per 1,000 requests, heaviest first. */
function summarize(file: string, w: Window, top: number): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let t = prof.startTime;
  let busy = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const dt = prof.timeDeltas[i + 1] ?? 0;
    if (t < w.fromUs || t > w.toUs) continue;
    const n = byId.get(prof.samples[i]!);
    if (!n || n.callFrame.functionName === '(idle)') continue;
    busy += dt;
    const k = frameKey(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + dt);
    const a = area(n.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + dt);
  }
  const per1k = (us: number) => ((us / 1000 / w.requests) * 1000).toFixed(1).padStart(6);
  const lines = [`busy ${per1k(busy)} ms per 1,000 requests (profiler on: higher than without it)`, '-- by area'];
  for (const [k, v] of [...areas.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`${per1k(v)} ms  ${k}`);
  lines.push('-- by function (self)');
  for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${per1k(v)} ms  ${k}`);
  return lines.join('\n');
}

function lastProfile(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  return files.length ? join(dir, files.at(-1)!) : undefined;
}

/** Runs wrk once after a warm-up and returns the window it covered. */
async function measure(url: string, headers: Record<string, string>, label: string): Promise<Window> {
  await wrk(url, { seconds: 2, headers });
  const fromUs = nowUs();
  const r: WrkResult = await wrk(url, { seconds: Number(values.seconds), headers });
  const toUs = nowUs();
  process.stdout.write(`${label} under wrk -t1 -c50: ${fmt(r)}\n`);
  return { fromUs, toUs, requests: r.requests };
}

async function main(): Promise<void> {
  requireWrk();
  const out = resolve(values.out!);
  const top = Number(values.top);
  const sides = ['gateway', 'daemon', ...(values.ceiling ? ['ceiling-front', 'ceiling-server'] : [])];
  for (const s of sides) {
    rmSync(join(out, s), { recursive: true, force: true });
    mkdirSync(join(out, s), { recursive: true });
  }
  const prof = (side: string) => ['--cpu-prof', `--cpu-prof-dir=${join(out, side)}`];
  const stack = await startStack({ gatewayNodeArgs: prof('gateway'), daemonNodeArgs: prof('daemon') });
  let loki: Window;
  try {
    const auth = { authorization: `Bearer ${await stack.token('profile')}` };
    loki = await measure(`${stack.url}${values.path}`, auth, `loki GET ${values.path}`);
  } finally {
    await stack.stop();
  }
  let ceiling: Window | undefined;
  if (values.ceiling) {
    const dir = mkdtempSync(join(tmpdir(), 'lkprof-'));
    const c = await startCeiling(dir, { server: prof('ceiling-server'), front: prof('ceiling-front') });
    try {
      ceiling = await measure(c.grpcUrl, {}, 'ceiling GET /api/sessions');
    } finally {
      await c.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const side of sides) {
    const file = lastProfile(join(out, side));
    const w = side.startsWith('ceiling') ? ceiling : loki;
    if (!file || !w) continue;
    process.stdout.write(`\n== ${side}: ${file}\n${summarize(file, w, top)}\n`);
  }
}

void main();
