// CLI startup: what `loki` costs before it does anything, against bare Node
// (`node -e 0`) measured in the same run. Targets that never reach a daemon:
// `--version`, an unknown flag (usage error, exit 2), a command's `--help`, and a
// command's option-parser error (exit 2). Runs are interleaved (baseline, then
// every target, N times) after one uncounted warm-up round; each child's exit
// code is checked so a target cannot silently measure a different path.
// Wall time is the median per run; CPU (user + sys of the child) is the mean per
// run, read from this process's reaped-children times in /proc/self/stat (Linux;
// elsewhere wall time only). `--compare OTHER/dist` runs the same targets on
// another build in the same rounds (before/after in one run). `--source-maps`
// adds --enable-source-maps, as the tests spawn the CLI (test/helpers/entry.ts).
// Prints figures and ratios; no assertions.
// Run (after `npm run build`): node dist/bench/cli-startup.js [--runs 20] [--compare OTHER/dist] [--source-maps]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, compare: { type: 'string' }, 'source-maps': { type: 'boolean', default: false } } });
const RUNS = Number(values.runs);

/** Repository root (this file runs as dist/bench/cli-startup.js or bench/cli-startup.ts under tsx); not bench/lib/stack.ts, which loads grpc-js. */
const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
})();

interface Target {
  name: string;
  argv: string[];
  exit: number;
  wall: number[];
  cpuTicks: number;
}

const CLI_CASES: { name: string; args: string[]; exit: number }[] = [
  { name: 'loki --version', args: ['--version'], exit: 0 },
  { name: 'loki --no-such-flag', args: ['--no-such-flag'], exit: 2 },
  { name: 'loki sessions list --help', args: ['sessions', 'list', '--help'], exit: 0 },
  { name: 'loki start --max-iterations abc --prompt x', args: ['start', '--max-iterations', 'abc', '--prompt', 'x'], exit: 2 },
];

/** The reaped children's user + sys time of this process, in clock ticks (fields 16 and 17 of /proc/self/stat). */
function childrenTicks(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]);
  } catch {
    return undefined;
  }
}

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function run(t: Target, counted: boolean): void {
  const c0 = childrenTicks();
  const t0 = process.hrtime.bigint();
  // A fixed, small environment: no LOKI_* from the caller, no stored login.
  const r = spawnSync(process.execPath, t.argv, { stdio: 'ignore', env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', LOKI_CONFIG_DIR: '/nonexistent' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c1 = childrenTicks();
  if (r.error) throw r.error;
  if (r.status !== t.exit) throw new Error(`${t.name}: exit ${r.status ?? r.signal}, expected ${t.exit}`);
  if (!counted) return;
  t.wall.push(ms);
  if (c0 !== undefined && c1 !== undefined) t.cpuTicks += c1 - c0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function cliMain(dist: string): string {
  const main = join(dist, 'cli', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} not found: run \`npm run build\` (or give --compare a built dist/)`);
  return main;
}

function main(): void {
  const flags = values['source-maps'] ? ['--enable-source-maps'] : [];
  const builds = [{ label: '', dist: join(ROOT, 'dist') }];
  if (values.compare) {
    builds[0]!.label = ' [this]';
    builds.push({ label: ' [other]', dist: resolve(values.compare) });
  }
  const baseline: Target = { name: 'node -e 0', argv: [...flags, '-e', '0'], exit: 0, wall: [], cpuTicks: 0 };
  const targets: Target[] = [baseline];
  for (const c of CLI_CASES) for (const b of builds) targets.push({ name: c.name + b.label, argv: [...flags, cliMain(b.dist), ...c.args], exit: c.exit, wall: [], cpuTicks: 0 });

  for (const t of targets) run(t, false);
  for (let i = 0; i < RUNS; i++) for (const t of targets) run(t, true);

  const hz = clockTicksPerSecond();
  const cpuKnown = childrenTicks() !== undefined;
  const cpu = (t: Target) => (t.cpuTicks / hz / RUNS) * 1000;
  process.stdout.write(`CLI startup, ${RUNS} interleaved runs per target${flags.length ? ', node --enable-source-maps' : ''}${values.compare ? `; other build: ${resolve(values.compare)}` : ''}\n`);
  process.stdout.write(`${'target'.padEnd(52)} ${'wall median'.padStart(12)} ${'CPU mean'.padStart(10)}   ratio to node -e 0 (wall, CPU)\n`);
  const base = { wall: median(baseline.wall), cpu: cpu(baseline) };
  for (const t of targets) {
    const wall = median(t.wall);
    const line = [t.name.padEnd(52), `${wall.toFixed(1)} ms`.padStart(12), (cpuKnown ? `${cpu(t).toFixed(1)} ms` : 'n/a').padStart(10)];
    if (t !== baseline) line.push(`   ${(wall / base.wall).toFixed(2)}x, ${cpuKnown && base.cpu > 0 ? `${(cpu(t) / base.cpu).toFixed(2)}x` : 'n/a'}`);
    process.stdout.write(line.join(' ') + '\n');
  }
}

main();
