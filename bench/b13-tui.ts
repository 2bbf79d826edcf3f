// B13 (issue 13): the terminal dashboard.
// 1. Ask → pane: a real lokid runs a `script` session in checkpoint mode whose
//    plan has N phases (each one asks); `loki dashboard` runs in a real tmux pane
//    on the approvals screen. For each ask: t0 = when a direct LokiClient watch
//    (the same admin socket) receives the request; t1 = when `capture-pane`
//    (polled every 20 ms) first shows that action. Baseline in the same run: the
//    direct watch's own delay from the daemon's `requested_at` to delivery.
// 2. Render cost: ms per frame of the sessions screen with 1,000 sessions (a
//    keypress that moves the selection until the frame changes), against the
//    same with 10 sessions.
// Prints figures and ratios; no assertions.
// Run (after `npm run build`): node dist/bench/b13-tui.js [--asks 30] [--frames 100]
import { parseArgs } from 'node:util';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { connectAdminSocket } from '../client/src/grpc/index.js';
import { Dashboard } from '../cli/src/dashboard/Dashboard.js';
import { agentRunnerBundle } from '../daemon/src/agent/runner-bundle.js';
import { ADMIN, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon } from '../test/daemon/sessions/helpers.js';
import { entryArgv } from '../test/helpers/entry.js';
import { fixture, session } from '../test/cli/dashboard/fixture-client.js';
import { Tmux } from '../test/cli/dashboard/tmux.js';

const { values } = parseArgs({ options: { asks: { type: 'string', default: '30' }, frames: { type: 'string', default: '100' }, 'skip-e2e': { type: 'boolean', default: false } } });
const ASKS = Number(values.asks);
const FRAMES = Number(values.frames);

function stats(xs: number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return { median: q(0.5), p95: q(0.95) };
}
const f1 = (n: number) => n.toFixed(1);
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function renderCost(n: number): Promise<number> {
  const f = fixture({ sessions: Array.from({ length: n }, (_, i) => session(`ses-${String(i).padStart(12, '0')}`, { created_at: new Date(Date.UTC(2026, 11, 4) + i * 1000).toISOString() })) });
  const inst = render(createElement(Dashboard, { client: f.client, theme: { color: false, ascii: false }, pollMs: 600_000 }));
  const frame = () => inst.lastFrame() ?? '';
  const wait = async (pred: () => boolean) => {
    while (!pred()) await new Promise((r) => setImmediate(r));
  };
  await wait(() => frame().includes(`Sessions (${n})`));
  const times: number[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const before = frame();
    const t0 = performance.now();
    inst.stdin.write(i % 2 === 0 ? 'j' : 'k');
    await wait(() => frame() !== before);
    times.push(performance.now() - t0);
  }
  inst.unmount();
  return stats(times).median;
}

async function askToPane(): Promise<void> {
  if (!runnerBundleRoot()) {
    console.log('ask → pane: skipped (no agent-runner bundle: run `npm run build`)');
    return;
  }
  const repo = makeRepo();
  const root = runnerBundleRoot()!;
  const sd = await startSessionDaemon({ sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'], default_max_iterations: ASKS * 2 + 10 }, runner: agentRunnerBundle(root) });
  const client = connectAdminSocket({ socketPath: sd.d.paths.adminSocket });
  const t = new Tmux(160, 50, {});
  try {
    await t.until((x) => x.includes('$'), 'shell');
    t.send(`${['node', ...entryArgv('cli')].map(shq).join(' ')} --socket ${shq(sd.d.paths.adminSocket)} dashboard`, 'Enter');
    await t.until((x) => x.includes('LIVE'), 'dashboard live');
    t.send('2');
    await t.until((x) => x.includes('Pending approvals (0)'), 'approvals screen');
    const names = Array.from({ length: ASKS }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
    const plan = names.map((n) => `- phase: ${n}`).join('\n');
    const ac = new AbortController();
    const watch = client.approvals.watch({ signal: ac.signal })[Symbol.asyncIterator]();
    await sd.feature.manager.start(ADMIN, { prd: 'docs/prd.md', prompt: '', provider: 'script', plan, profile: '', autonomy: 'checkpoint', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: ASKS * 2 + 10, network: false });
    const pane: number[] = [];
    const direct: number[] = [];
    for (const n of names) {
      let ev;
      do ev = (await watch.next()).value;
      while (!ev || ev.approval.status !== 'pending' || !ev.approval.action.includes(n));
      const t0 = Date.now();
      if (ev.approval.requested_at) direct.push(t0 - Date.parse(ev.approval.requested_at));
      await t.until((x) => x.includes(`phase ${n}`), `phase ${n} in the pane`, 30_000, 20);
      pane.push(Date.now() - t0);
      await client.approvals.approve(ev.approval.id);
    }
    ac.abort();
    const p = stats(pane);
    const d = stats(direct);
    console.log(`ask → pane (${ASKS} asks, capture-pane every 20 ms): median ${f1(p.median)} ms, p95 ${f1(p.p95)} ms after the direct client saw it`);
    console.log(`baseline, daemon requested_at → direct LokiClient watch: median ${f1(d.median)} ms, p95 ${f1(d.p95)} ms`);
    console.log(`end to end (requested_at → pane) ≈ median ${f1(p.median + d.median)} ms; pane/direct ratio ${f1((p.median + d.median) / Math.max(1, d.median))}×`);
    t.send('q');
  } finally {
    t.kill();
    client.close();
    await sd.cleanup();
    removeDir(repo);
  }
}

const small = await renderCost(10);
const big = await renderCost(1000);
console.log(`sessions screen render: ${f1(big)} ms/frame with 1,000 sessions vs ${f1(small)} ms/frame with 10 (ratio ${f1(big / small)}×), median of ${FRAMES} selection moves`);
if (!values['skip-e2e']) await askToPane();
process.exit(0);
