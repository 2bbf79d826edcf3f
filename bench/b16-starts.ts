// B16 starts: 1 / 5 / 20 concurrent session starts → time until all run (each
// start call returns once its sandbox runs), on one daemon with a real dockerd,
// real git workspaces (size-limited loop mounts when root) and a stand-in runner
// that idles (the runner's own start-up is B6-warm's business). Prints the curve
// and the time per start; linear in N is what a 2-core host can do at best
// (container starts are CPU-bound), flat would mean free parallelism.
// Run: npx tsx bench/b16-starts.ts [--levels 1,5,20] [--same-project]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/src/index.js';
import type { Caller } from '../daemon/src/authz/caller.js';
import { startDaemon } from '../daemon/src/daemon.js';
import { defaultSessionsConfig } from '../daemon/src/sessions/config.js';
import { createSessionFeature, type SessionFeature } from '../daemon/src/sessions/feature.js';
import { removeHome } from '../test/helpers/daemon.js';
import { benchRepo } from './lib/repo.js';

const ADMIN: Caller = { role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: 'b16s', clientIp: 'local' };
const IDLE = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];

function repo(i: number): string {
  return benchRepo(`b16s${i}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { levels: { type: 'string', default: '1,5,20' }, 'same-project': { type: 'boolean', default: false } } });
  const levels = values.levels.split(',').map(Number).filter((n) => n > 0);
  const max = Math.max(...levels);
  const repos = values['same-project'] ? [repo(0)] : Array.from({ length: max }, (_, i) => repo(i));
  const home = mkdtempSync('/tmp/b16s-');
  let feature: SessionFeature | undefined;
  const d = await startDaemon({
    home,
    env: { PATH: process.env.PATH ?? '' },
    logger: createLogger({ name: 'b16s', level: 'warn' }),
    overrides: { sandbox: { image: process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest', stop_timeout_seconds: 1, max_sandboxes: max + 5 } },
    features: (b) => (feature = createSessionFeature({ ...b, sandboxes: b.manager, sessions: defaultSessionsConfig({ runner_command: IDLE, max_concurrent: max + 5, stop_grace_seconds: 0 }) })),
  });
  const m = feature!.manager;
  const load0 = loadavg();
  const rows: string[] = [];
  try {
    for (const n of levels) {
      const t0 = performance.now();
      const done: number[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: n }, async (_, i) => {
          const s = await m.start(ADMIN, { prd: '', prompt: 'b16', provider: 'script', plan: '- run: "true"\n', profile: '', autonomy: 'perpetual', project: '', projectPath: repos[i % repos.length]!, model: '', baseUrl: '', maxIterations: 0, network: false });
          done.push(performance.now() - t0);
          return s;
        }),
      );
      const all = performance.now() - t0;
      const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ id: string }>).value);
      const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason?.message ?? r).slice(0, 160));
      done.sort((a, b) => a - b);
      rows.push(
        `${String(n).padStart(3)} concurrent: all running after ${all.toFixed(0).padStart(6)} ms  first ${(done[0] ?? NaN).toFixed(0).padStart(6)} ms  per start ${(all / n).toFixed(0).padStart(5)} ms` +
          (failed.length ? `  FAILED ${failed.length}/${n}: ${[...new Set(failed)].join(' | ')}` : ''),
      );
      await Promise.all(ok.map((s) => m.stop(ADMIN, s.id).catch(() => undefined)));
      await Promise.all(ok.map((s) => m.remove(ADMIN, s.id).catch(() => undefined)));
    }
    process.stdout.write(`B16 starts: N concurrent session starts → all running (${values['same-project'] ? 'one project' : 'one project each'}; runtime ${d.config.sandbox.runtime})\n`);
    for (const r of rows) process.stdout.write(`${r}\n`);
    process.stdout.write(`load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} cores)\n`);
  } finally {
    for (const s of await m.store.list()) if (s.sandboxId) await d.manager.teardown(undefined, s.sandboxId).catch(() => undefined);
    await d.close();
    removeHome(home);
    for (const r of repos) rmSync(r, { recursive: true, force: true });
  }
}

await main();
