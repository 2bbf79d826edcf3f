// B8: policy decision latency over the test corpus (dangerous + ordinary
// commands) against the p50 of a bare `docker exec <container> true` measured
// in the same run. Goal: decision p99 ≤ 0.02 × docker-exec p50. No assertions.
// Run: npx tsx bench/b8-policy.ts [--rounds N] [--execs N]
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildPolicyEngine } from '../daemon/src/policy/config.js';

const run = promisify(execFile);
/** Walks up to the repo root so this works from bench/ (tsx) and dist/bench/ (compiled) alike. */
function corpusDir(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'daemon', 'policy', 'corpus');
    if (existsSync(join(candidate, 'dangerous.txt'))) return candidate;
    if (dirname(dir) === dir) throw new Error('policy corpus not found');
  }
}

function corpus(): string[] {
  const dir = corpusDir();
  return ['dangerous.txt', 'ordinary.txt'].flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => l.replace(/\\n/g, '\n')),
  );
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface B8Result {
  decisions: number;
  p50Ms: number;
  p99Ms: number;
  dockerExecP50Ms: number | undefined;
  ratio: number | undefined;
  note: string;
}

export function measureDecisions(rounds: number): { samples: number[] } {
  const { engine } = buildPolicyEngine({});
  const cmds = corpus();
  for (const c of cmds) engine.decide({ kind: 'shell', command: c }, { sessionId: 'bench' }); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of cmds) {
      const t0 = process.hrtime.bigint();
      engine.decide({ kind: 'shell', command: c }, { sessionId: 'bench' });
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return { samples: samples.sort((a, b) => a - b) };
}

async function dockerExecBaseline(execs: number): Promise<{ p50?: number; note: string }> {
  let image: string | undefined;
  try {
    const { stdout } = await run('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    image = stdout.split('\n').find((l) => l && !l.includes('<none>'));
  } catch (err) {
    return { note: `docker unavailable (${(err as Error).message.split('\n')[0]}): baseline unavailable` };
  }
  if (!image) return { note: 'no local docker image: baseline unavailable' };
  const name = `loki-b8-${process.pid}`;
  try {
    await run('docker', ['run', '-d', '--rm', '--name', name, '--network', 'none', '--entrypoint', 'sleep', image, '300']);
  } catch (err) {
    return { note: `could not start a container from ${image} (${(err as Error).message.split('\n')[0]}): baseline unavailable` };
  }
  try {
    await run('docker', ['exec', name, 'true']); // warm-up
    const t: number[] = [];
    for (let i = 0; i < execs; i++) {
      const t0 = process.hrtime.bigint();
      await run('docker', ['exec', name, 'true']);
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    t.sort((a, b) => a - b);
    return { p50: percentile(t, 50), note: `docker exec ${image} true ×${execs}` };
  } finally {
    await run('docker', ['rm', '-f', name]).catch(() => undefined);
  }
}

export async function runB8(rounds = 20, execs = 20): Promise<B8Result> {
  const { samples } = measureDecisions(rounds);
  const base = await dockerExecBaseline(execs);
  const p99 = percentile(samples, 99);
  return {
    decisions: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: p99,
    dockerExecP50Ms: base.p50,
    ratio: base.p50 ? p99 / base.p50 : undefined,
    note: base.note,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runB8(arg('--rounds', 20), arg('--execs', 20));
  const f = (n: number) => n.toFixed(3);
  process.stdout.write(`B8 policy decision: ${r.decisions} decisions, p50 ${f(r.p50Ms)} ms, p99 ${f(r.p99Ms)} ms\n`);
  if (r.dockerExecP50Ms === undefined) process.stdout.write(`B8 baseline: ${r.note}\n`);
  else {
    process.stdout.write(`B8 baseline: ${r.note}: p50 ${f(r.dockerExecP50Ms)} ms\n`);
    process.stdout.write(`B8 ratio: decision p99 / docker exec p50 = ${r.ratio!.toFixed(4)}× (goal ≤ 0.02×)\n`);
  }
}
