// B12 (issue 12): how fast a human sees and answers an `ask`, in the web
// dashboard vs the CLI, over the same gateway in the same run.
//   see:      from the runner's Decide call (the daemon records the ask) to the
//             approval being visible — the card in the browser (live SSE), or
//             the first `loki approvals list --json` (a real CLI process over
//             --url/--token, run back to back) that shows it;
//   continue: from the click on Approve (or the start of `loki approvals
//             approve <id>`) to the runner's Decide returning allow.
// Real lokid (in process) with a session in a real sandbox, real gateway over
// HTTP, real headless Chromium. Prints median and p95 of each and the ratios
// CLI/web; no assertions.
// Run: npm run build && npx tsx bench/b12-web.ts [--asks 50]
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ADMIN, agentSocket, makeRepo, removeDir, StandInRunner, startSessionDaemon, until } from '../test/daemon/sessions/helpers.js';
import { buildTestGateway, generateToken } from '../test/gateway/helpers.js';
import { openBrowser } from '../test/web/browser.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { asks: { type: 'string', default: '50' } } });
const asks = Number(values.asks);
const CLI = join(process.cwd(), 'dist', 'cli', 'src', 'main.js');

function stats(xs: number[]): { median: number; p95: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { median: at(0.5), p95: at(0.95) };
}

const repo = makeRepo();
const sd = await startSessionDaemon();
const gw = await buildTestGateway({
  socket: sd.d.paths.gatewaySocket,
  raw: { rate_limit: { per_minute: 1_000_000, burst: 1_000_000, unauthenticated_per_minute: 1_000_000 } },
  // Run from source by tsx: point the gateway at the built dashboard explicitly.
  deps: { web: { root: join(process.cwd(), 'dist', 'web') } },
});
await gw.app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
const token = (await generateToken(sd.d.paths.adminSocket, { name: 'b12', role: 'admin' })).secret;
const cliEnv = { ...process.env, LOKI_URL: base, LOKI_TOKEN: token };
const browser = await openBrowser();
const m = sd.feature.manager;
const web = { see: [] as number[], cont: [] as number[] };
const cli = { see: [] as number[], cont: [] as number[] };
let runner: StandInRunner | undefined;
try {
  // The session's container runs a stand-in loop; this process speaks the runner's side of the agent socket.
  const s = await m.start(ADMIN, { prd: '', prompt: 'b12', provider: 'script', plan: '- run: "true"\n', profile: '', autonomy: 'supervised', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
  await until('running', async () => (await m.get(ADMIN, s.id)).state === 'running', 60_000);
  runner = new StandInRunner(agentSocket(sd.d, s.id));
  await runner.hello();
  const page = browser.page;
  await page.goto(`${base}/`);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav[aria-label=Main]');
  await page.goto(`${base}/#/approvals`);
  await page.waitForSelector('h1:text("Approvals")');

  for (let i = 0; i < asks; i++) {
    const t0 = performance.now();
    const decided = runner!.decide({ $case: 'shell', shell: `echo web-${i}` });
    const card = await page.waitForSelector('article.approval', { timeout: 30_000 });
    web.see.push(performance.now() - t0);
    const t1 = performance.now();
    await card.$eval('button.approve', (b) => (b as unknown as { click(): void }).click());
    const r = await decided;
    web.cont.push(performance.now() - t1);
    if (r.decision !== 'allow') throw new Error(`web ask ${i} ended ${r.decision}`);
    await page.waitForSelector('article.approval', { state: 'detached' });
  }

  for (let i = 0; i < asks; i++) {
    const t0 = performance.now();
    const decided = runner!.decide({ $case: 'shell', shell: `echo cli-${i}` });
    let id: string | undefined;
    while (!id) {
      const { stdout } = await run(process.execPath, [CLI, 'approvals', 'list', '--json'], { env: cliEnv });
      const list = JSON.parse(stdout) as { approvals?: { id: string }[] } | { id: string }[];
      id = (Array.isArray(list) ? list : (list.approvals ?? []))[0]?.id;
    }
    cli.see.push(performance.now() - t0);
    const t1 = performance.now();
    await run(process.execPath, [CLI, 'approvals', 'approve', id], { env: cliEnv });
    const r = await decided;
    cli.cont.push(performance.now() - t1);
    if (r.decision !== 'allow') throw new Error(`cli ask ${i} ended ${r.decision}`);
  }
} finally {
  runner?.close();
  await browser.close();
  await gw.close();
  await sd.cleanup();
  removeDir(repo);
}

const row = (name: string, w: number[], c: number[]) => {
  const a = stats(w);
  const b = stats(c);
  return `${name.padEnd(10)} web median ${a.median.toFixed(0)} ms, p95 ${a.p95.toFixed(0)} ms | CLI median ${b.median.toFixed(0)} ms, p95 ${b.p95.toFixed(0)} ms | CLI/web ${(b.median / a.median).toFixed(2)}× (median), ${(b.p95 / a.p95).toFixed(2)}× (p95)`;
};
process.stdout.write(`B12 over ${asks} asks each (same daemon, gateway and session):\n`);
process.stdout.write(`${row('see', web.see, cli.see)}\n${row('continue', web.cont, cli.cont)}\n`);
