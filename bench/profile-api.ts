// Profiles GET /api/sessions through gateway + daemon under wrk: both processes run
// with --cpu-prof and write .cpuprofile files (open them in Chrome DevTools or
// speedscope) into --out; a short summary of the heaviest functions is printed.
// Run: npm run build && node dist/bench/profile-api.js [--seconds N] [--out DIR (default $TMPDIR/loki-profiles)]
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, requireWrk, startStack, wrk } from './lib/stack.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, out: { type: 'string', default: join(tmpdir(), 'loki-profiles') }, path: { type: 'string', default: '/api/sessions' } } });

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time per function, heaviest first. */
function summarize(file: string, top = 25): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const s of prof.samples) {
    const n = byId.get(s);
    if (!n) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/dist\//, '')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = prof.samples.length;
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');
}

async function main(): Promise<void> {
  requireWrk();
  const out = resolve(values.out!);
  mkdirSync(join(out, 'gateway'), { recursive: true });
  mkdirSync(join(out, 'daemon'), { recursive: true });
  const stack = await startStack({
    gatewayNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(out, 'gateway')}`],
    daemonNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(out, 'daemon')}`],
  });
  try {
    const auth = { authorization: `Bearer ${await stack.token('profile')}` };
    await wrk(`${stack.url}${values.path}`, { seconds: 2, headers: auth });
    const r = await wrk(`${stack.url}${values.path}`, { seconds: Number(values.seconds), headers: auth });
    process.stdout.write(`GET ${values.path} under wrk -t1 -c50: ${fmt(r)}\n`);
  } finally {
    await stack.stop();
  }
  for (const side of ['gateway', 'daemon']) {
    const files = readdirSync(join(out, side)).filter((f) => f.endsWith('.cpuprofile')).sort();
    const last = files.at(-1);
    if (!last) continue;
    process.stdout.write(`\n== ${side}: ${join(out, side, last)} (self time)\n${summarize(join(out, side, last))}\n`);
  }
}

void main();
