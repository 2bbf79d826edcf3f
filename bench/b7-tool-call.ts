// B7: one agent tool call end to end — the real agent-runner in a real sandbox
// asks Decide over its agent socket (policy, trail, audit, event log), runs
// `true` inside the container and handles the result — against a direct
// dockerode exec of `true` in the same container and against the `docker exec`
// CLI, all in the same run. Goals: runner ≤ 1.2× dockerode exec, ≤ 0.5× docker CLI.
// Prints figures, no assertions. Needs dockerd, the sandbox image and `npm run build` (the runner bundle).
// Run: npx tsx bench/b7-tool-call.ts [--calls N]
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createLogger } from '../common/src/index.js';
import { agentRunnerBundle } from '../daemon/src/agent/runner-bundle.js';
import { startDaemon } from '../daemon/src/daemon.js';
import type { Caller } from '../daemon/src/authz/caller.js';
import type { SandboxDriver } from '../daemon/src/sandbox/types.js';
import { defaultSessionsConfig } from '../daemon/src/sessions/config.js';
import { createSessionFeature, type SessionFeature } from '../daemon/src/sessions/feature.js';
import { benchRepo } from './lib/repo.js';

const run = promisify(execFile);
const ADMIN: Caller = { role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: 'b7', clientIp: 'local' };

function installRoot(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'dist', 'agent-runner', 'loki-agent-runner.cjs'))) return dir;
    if (dirname(dir) === dir) throw new Error('the agent-runner bundle is missing; run `npm run build`');
  }
}

function stats(ms: number[]): { p50: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)]!, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function repo(): string {
  return benchRepo('b7');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '50' } } });
  const calls = Math.max(5, Number(values.calls));
  const home = mkdtempSync('/tmp/b7-');
  const project = repo();
  const root = installRoot();
  let feature: SessionFeature | undefined;
  let driver: SandboxDriver | undefined;
  const d = await startDaemon({
    home,
    env: { PATH: process.env.PATH ?? '' },
    logger: createLogger({ name: 'b7', level: 'warn' }),
    overrides: { sandbox: { image: process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest', stop_timeout_seconds: 2 } },
    features: (b) => {
      driver = b.driver;
      // No workspace size limit here: it is a loop mount the temp-dir cleanup below would trip over, and B7 measures tool calls.
      feature = createSessionFeature({ ...b, sandboxes: b.manager, sessions: defaultSessionsConfig({ workspace: { max_size: 0 } }), runner: agentRunnerBundle(root) });
      return feature;
    },
  });
  try {
    // Runner path: a plan of `run: true` steps (plus a slow last step that keeps the container up for the baselines).
    const plan = [...Array.from({ length: calls + 1 }, () => ({ run: 'true' })), { sleep: 600_000 }];
    const m = feature!.manager;
    const s = await m.start(ADMIN, { prd: '', prompt: 'b7', provider: 'script', plan: JSON.stringify(plan), profile: '', autonomy: 'perpetual', project: '', projectPath: project, model: '', baseUrl: '', maxIterations: calls + 5, network: false });
    const decisions: number[] = [];
    for (const deadline = Date.now() + 120_000; decisions.length < calls + 1 && Date.now() < deadline; ) {
      decisions.length = 0;
      for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) {
        if (e.type === 'decision' && e.data.kind === 'shell') decisions.push(e.timeMs);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    // Consecutive Decide calls are one full cycle apart: Decide → exec `true` → result → next Decide.
    const runner = decisions.slice(1).map((t, i) => t - decisions[i]!);

    const dockerode: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t0 = process.hrtime.bigint();
      const ex = await driver!.exec(s.sandboxId, { argv: ['true'], tty: false, cols: 0, rows: 0, env: {}, workdir: '/workspace', user: '1000:1000' });
      for await (const chunk of ex.output) void chunk;
      await ex.exitCode();
      dockerode.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const info = await driver!.get(s.sandboxId);
    const cli: number[] = [];
    for (let i = 0; i < Math.min(calls, 20); i++) {
      const t0 = process.hrtime.bigint();
      await run('docker', ['exec', info!.containerId, 'true']);
      cli.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    await m.stop(ADMIN, s.id);

    const r = stats(runner);
    const dx = stats(dockerode);
    const c = stats(cli);
    const line = (name: string, x: { p50: number; mean: number }, n: number) => process.stdout.write(`${name.padEnd(34)} n=${String(n).padStart(3)}  p50 ${x.p50.toFixed(2).padStart(8)} ms  mean ${x.mean.toFixed(2).padStart(8)} ms\n`);
    process.stdout.write('B7: one agent tool call end to end (runner → Decide → exec `true` in the container → result)\n');
    line('runner tool call (event timestamps)', r, runner.length);
    line('dockerode exec true', dx, dockerode.length);
    line('docker exec CLI', c, cli.length);
    process.stdout.write(`ratio runner / dockerode exec: ${(r.p50 / dx.p50).toFixed(2)}× (goal ≤ 1.2×)\n`);
    process.stdout.write(`ratio runner / docker exec CLI: ${(r.p50 / c.p50).toFixed(2)}× (goal ≤ 0.5×)\n`);
    process.stdout.write('note: runner figures come from the daemon\'s event timestamps (1 ms resolution).\n');
  } finally {
    for (const s of await feature?.manager.store.list() ?? []) if (s.sandboxId) await driver?.remove(s.sandboxId, true).catch(() => undefined);
    await d.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
  }
}

await main();
