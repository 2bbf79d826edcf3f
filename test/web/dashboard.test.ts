// The web dashboard end to end in real headless Chromium, against a real lokid
// (sessions in real sandboxes with the real agent-runner) and a real gateway
// over HTTP: token login, a script session started from the UI and watched
// live, its ask approved with a comment, a dropped stream resumed with no gap
// or duplicate, a viewer who cannot decide, tokens revoked from the UI, axe-core
// on every page, and screenshots of every page at 1280×800 and 390×844.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { escapeForDisplay } from '../../common/src/display.js';
import { GatewayMetrics } from '../../gateway/src/metrics.js';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { buildTestGateway, generateToken, type TestGateway } from '../gateway/helpers.js';
import { axeSerious, openBrowser, screenshot, type TestBrowser } from './browser.js';

const PLAN = `- write: hello.txt
  content: "hello\\n"
  task: t1
- run: cat hello.txt
- phase: review
- commit: "add hello"
`;

interface ApprovalDto {
  id: string;
  status: string;
  action: string;
  action_hash: string;
  comment: string | null;
  decided_by: string | null;
}

describe('web dashboard in a real browser', function () {
  this.timeout(180_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let repo: string;
  let base: string;
  let admin: TestBrowser;
  const tok: Record<string, string> = {};
  let sessionId = '';
  let metricsClient: DaemonClient;

  const api = async <T>(path: string, who = 'admin', init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const r = await fetch(base + path, { ...init, headers: { authorization: `Bearer ${tok[who]}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    return { status: r.status, body: (await r.json()) as T };
  };

  async function signIn(b: TestBrowser, token: string): Promise<void> {
    await b.page.goto(`${base}/`);
    await b.page.fill('#token', token);
    await b.page.click('button[type=submit]');
    await b.page.waitForSelector('nav[aria-label=Main]');
  }

  before(async function () {
    if (!runnerBundleRoot()) this.skip(); // `npm run build` makes the runner bundle
    repo = makeRepo();
    const root = runnerBundleRoot()!;
    sd = await startSessionDaemon({
      sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'] },
      runner: agentRunnerBundle(root),
      // The two-person rule under test: production deploys need two distinct people.
      policy: { rules: [{ id: 'two-person-deploy', effect: 'ask', pattern: 'deploy-prod', reason: 'production deploys need two people', approvers: 2, require_distinct_approver: true }] },
    });
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
    for (const [name, role] of [['admin', 'admin'], ['viewer', 'viewer'], ['second', 'admin'], ['third', 'admin']] as const) tok[name] = (await generateToken(sd.d.paths.adminSocket, { name: `web-${name}`, role })).secret;
    // The Overview charts read /metrics: wire the session series as main.ts does.
    metricsClient = createDaemonClient({ socketPath: sd.d.paths.gatewaySocket, timeoutMs: 5000 });
    const metrics = new GatewayMetrics({ processMetrics: false, sessionMetrics: () => metricsClient.forCaller({ requestId: 'm', subject: 'gateway:metrics', scopes: ['*'] }).sessions.metrics() });
    gw = await buildTestGateway({
      socket: sd.d.paths.gatewaySocket,
      deps: { metrics },
      raw: { enterprise: { auth: { token_cache_ms: 0 } }, rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000, max_streams_per_subject: 64 } },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
    admin = await openBrowser();
  });

  after(async function () {
    await admin?.close();
    await gw?.close();
    metricsClient?.close();
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  it('signs in with a pasted token and keeps it out of page JavaScript and storage', async () => {
    await admin.page.goto(`${base}/`);
    await admin.page.waitForSelector('#token');
    await screenshot(admin.page, 'login-1280x800');
    await signIn(admin, tok.admin!);
    assert.match(await admin.page.textContent('.who') ?? '', /token:web-admin/);
    // The overview names the sandbox backend from the driver-neutral status.
    await admin.page.waitForSelector('.tile.driver:has-text("reachable")');
    assert.match(await admin.page.textContent('.tile.driver') ?? '', /^docker sandbox driver, reachable \(\d+\.[^)]*\)$/);
    const seen = await admin.page.evaluate('({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.length, input: document.querySelector("#token") })');
    assert.deepEqual(seen, { cookie: '', local: 0, session: 0, input: null });
    const cookies = await admin.context.cookies();
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0]!.httpOnly, true);
    assert.equal(cookies[0]!.sameSite, 'Strict');
    assert.ok(!cookies[0]!.value.includes(tok.admin!));
  });

  it('starts a script session from the UI, streams it live, approves its ask with a comment, and resumes a dropped stream without gap or duplicate', async () => {
    const page = admin.page;
    await page.goto(`${base}/#/sessions`);
    await page.click('text=Start a session…');
    await page.selectOption('label:has-text("Provider") select', 'script');
    await page.selectOption('label:has-text("Project") select', 'demo');
    await page.selectOption('label:has-text("Autonomy") select', 'checkpoint');
    await page.fill('label:has-text("Prompt") input', 'say hello');
    await page.fill('label:has-text("Plan") textarea', PLAN);
    await page.click('form[aria-label="Start a session"] button[type=submit]');
    await page.waitForURL(/#\/sessions\/ses-[0-9a-f]{12}$/);
    sessionId = /ses-[0-9a-f]{12}/.exec(page.url())![0];

    // Events arrive live, then the phase change asks for approval: its card shows the whole action.
    await page.waitForSelector('.events li[data-seq="1"]');
    const card = await page.waitForSelector('article.approval', { timeout: 90_000 });
    const pending = (await api<{ approvals: ApprovalDto[] }>(`/api/approvals?session_id=${sessionId}`)).body.approvals;
    assert.equal(pending.length, 1);
    const ask = pending[0]!;
    assert.equal(await card.$eval('pre.action', (e) => e.textContent), escapeForDisplay(ask.action));
    assert.match(ask.action, /phase review/);
    assert.equal(await card.$eval('.hash', (e) => e.textContent), ask.action_hash);
    assert.match((await card.textContent()) ?? '', /Expires\s*in \d/);
    // `cat hello.txt`'s result: "exit 0" beside the event, its output in a block under it.
    const result = page.locator('.events li', { has: page.locator('.evtype:text-is("tool_result")') }).filter({ has: page.locator('.evout') });
    assert.equal(await result.locator('.evmsg').textContent(), 'exit 0');
    assert.equal(await result.locator('.evout').textContent(), 'hello');
    await screenshot(page, 'session-waiting-1280x800');

    // Drop every connection (the event stream included) while the session waits, then decide:
    // the events that follow happen while the browser is reconnecting.
    const before = await page.$$eval('.events li', (l) => l.length);
    gw.app.server.closeAllConnections();
    await page.fill(`#c-${ask.id}`, 'looks right to me');
    await page.click(`article[data-approval="${ask.id}"] button.approve`);
    await page.waitForSelector(`article[data-approval="${ask.id}"]`, { state: 'detached' });

    await page.waitForSelector('.events li .evtype:text-is("finished")', { timeout: 90_000 });
    await page.waitForSelector('.facts .state:text-is("completed")', { timeout: 30_000 });
    // The plan's task: counted in the summary, and its events say which task and what status.
    assert.equal((await page.textContent('dd[data-fact=tasks]'))?.trim(), '1 done · 0 failed · 0 active · 0 pending');
    const taskEvents = page.locator('.events li', { has: page.locator('.evtype:text-is("task")') }).locator('.evmsg');
    assert.deepEqual(await taskEvents.allTextContents(), ['t1 in_progress', 't1 completed']);
    const seqs = await page.$$eval('.events li', (l) => l.map((e) => Number(e.getAttribute('data-seq'))));
    assert.ok(seqs.length > before, 'events kept arriving after the drop');
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'no gap and no duplicate');
    const s = (await api<{ events_total: number; state: string }>(`/api/sessions/${sessionId}`)).body;
    assert.equal(s.state, 'completed');
    assert.equal(seqs.length, s.events_total);

    const decided = (await api<ApprovalDto>(`/api/approvals/${ask.id}`)).body;
    assert.equal(decided.status, 'approved');
    assert.equal(decided.comment, 'looks right to me');
    assert.equal(decided.decided_by, 'token:web-admin');
  });

  it('shows the diff and the highlighted per-file patch of the session', async () => {
    const page = admin.page;
    await page.click('role=tab[name="Changes"]');
    await page.waitForSelector('pre.patch');
    assert.match((await page.textContent('.files')) ?? '', /hello\.txt/);
    assert.equal(await page.$eval('pre.patch .ln.add', (e) => e.textContent), '+hello\n');
    await page.click('role=tab[name="Agent trail"]');
    await page.waitForSelector('table:has(caption:text("Agent trail")) tbody tr');
  });

  it('gives a viewer no approve button, and a forged approval call answers 403', async () => {
    // A second session that waits, so the queue is not empty for the admin's screenshots below.
    const started = await api<{ id: string }>('/api/control/start', 'admin', { method: 'POST', body: JSON.stringify({ prompt: 'wait', provider: 'script', project: 'demo', autonomy: 'checkpoint', plan: '- phase: review\n' }) });
    assert.equal(started.status, 201);
    const viewer = await openBrowser({ width: 390, height: 844 });
    try {
      await signIn(viewer, tok.viewer!);
      await viewer.page.goto(`${base}/#/approvals`);
      await viewer.page.waitForSelector('h1:text("Approvals")');
      assert.equal(await viewer.page.$$eval('button.approve, button.reject', (b) => b.length), 0);
      assert.equal(await viewer.page.$$eval('nav a[href="#/tokens"]', (b) => b.length), 0, 'no Tokens page for a viewer');
      const pending = (await api<{ approvals: ApprovalDto[] }>(`/api/approvals?session_id=${started.body.id}`)).body.approvals;
      const target = pending[0]?.id ?? 'apr-unknown';
      const forged = await viewer.page.evaluate(async (id) => {
        const me = (await (await fetch('/auth/session')).json()) as { csrf_token: string };
        const r = await fetch(`/api/approvals/${id}/approve`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf_token }, body: '{}' });
        return { status: r.status, body: (await r.json()) as { error: { code: string } } };
      }, target);
      assert.equal(forged.status, 403);
      assert.equal(forged.body.error.code, 'permission_denied');
      assert.deepEqual(viewer.problems, []);
    } finally {
      await viewer.close();
    }
  });

  it('holds a two-person approval after the first approver, and the session goes on only after a second person', async () => {
    const page = admin.page;
    // Started by "second": the UI's user (admin) is the first approver, the starter may not approve, "third" completes it.
    const started = await api<{ id: string }>('/api/control/start', 'second', { method: 'POST', body: JSON.stringify({ prompt: 'deploy', provider: 'script', project: 'demo', plan: `- run: 'sh -c "echo go && deploy-prod"'\n` }) });
    assert.equal(started.status, 201);
    await page.goto(`${base}/#/sessions/${started.body.id}`);
    const card = await page.waitForSelector('article.approval', { timeout: 90_000 });
    assert.match((await card.textContent()) ?? '', /two-person-deploy/);
    // The card shows the line exactly as it will run, and the policy's reading of it beside it.
    assert.equal(await card.$eval('pre.action', (e) => e.textContent), 'sh -c "echo go && deploy-prod"');
    assert.match(await card.$eval('dl.facts', (e) => e.textContent ?? ''), /Analysed asecho go && deploy-prod/);
    await screenshot(page, 'approval-two-person-analysed-1280x800');
    // The rule is shown before anyone decides: how many people, and that the starter is barred.
    assert.match(await card.$eval('.two-person', (e) => e.textContent ?? ''), /^0 of 2 distinct approvers; the session’s starter may not approve$/);
    await card.$eval('button.approve', (b) => (b as unknown as { click(): void }).click());
    await page.waitForSelector('article.approval [role=alert]:has-text("another person must approve too")');
    await page.waitForSelector('article.approval .two-person:has-text("1 of 2 distinct approvers (token:web-admin)")');
    const [pending] = (await api<{ approvals: ApprovalDto[] }>(`/api/approvals?session_id=${started.body.id}`)).body.approvals;
    assert.equal(pending!.status, 'pending', 'one approval is not enough');
    // The same person again is refused by the daemon.
    await card.$eval('button.approve', (b) => (b as unknown as { click(): void }).click());
    await page.waitForSelector('article.approval [role=alert]:has-text("already approved")');
    const starter = await api<{ error: { code: string; message: string } }>(`/api/approvals/${pending!.id}/approve`, 'second', { method: 'POST', body: '{}' });
    assert.equal(starter.status, 403);
    assert.match(starter.body.error.message, /other than the session's starter/);
    // A second, distinct person completes it; the card leaves and the session carries on.
    const second = await api<ApprovalDto>(`/api/approvals/${pending!.id}/approve`, 'third', { method: 'POST', body: '{}' });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.equal(second.body.status, 'approved');
    await page.waitForSelector('article.approval', { state: 'detached' });
    // The runner goes on: the daemon lets the approved action through, once (the approval is consumed).
    const deadline = Date.now() + 60_000;
    let used: string | null = null;
    while (!used && Date.now() < deadline) {
      used = (await api<ApprovalDto & { used_at: string | null }>(`/api/approvals/${pending!.id}`)).body.used_at;
      if (!used) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(used, `the approved action was never let through; events: ${await page.textContent('.events')}`);
  });

  it('generates a token (secret shown once), revokes it, and the next request with it fails', async () => {
    const page = admin.page;
    await page.goto(`${base}/#/tokens`);
    await page.fill('label:has-text("Name") input', 'from-the-ui');
    await page.selectOption('label:has-text("Role") select', 'operator');
    await page.click('form[aria-label="Generate a token"] button[type=submit]');
    const secret = (await (await page.waitForSelector('[data-secret]')).textContent())!.trim();
    assert.match(secret, /^loki_/);
    const ok = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(ok.status, 200);
    await page.click('text=Done');
    assert.equal(await page.$$eval('[data-secret]', (l) => l.length), 0, 'the secret is gone once dismissed');
    page.once('dialog', (d) => void d.accept());
    await page.click('button[aria-label="Revoke from-the-ui"]');
    await page.waitForSelector('tr[data-token="from-the-ui"] td:nth-child(4):text-is("revoked")');
    const after = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401);
  });

  it("shows a sandbox's recent output with stderr marked, and the audit chain's verify status", async () => {
    const page = admin.page;
    const started = await api<{ id: string }>('/api/sandboxes', 'admin', {
      method: 'POST',
      body: JSON.stringify({ name: 'web-logs', project: 'demo', command: ['/bin/sh', '-c', 'echo hello from stdout; echo oops on stderr >&2; printf "\\033[31mred\\n"; exec sleep 600'] }),
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    await page.goto(`${base}/#/sandboxes`);
    await page.click('button[aria-label="Logs of web-logs"]');
    const logs = await page.waitForSelector('pre.logs:has-text("oops on stderr")', { timeout: 30_000 });
    assert.match((await logs.textContent()) ?? '', /hello from stdout/);
    assert.deepEqual(await page.$$eval('pre.logs .stderr', (l) => l.map((e) => e.textContent?.trim())), ['oops on stderr']);
    // An agent's escape sequences are shown, never interpreted.
    assert.match((await logs.textContent()) ?? '', /\\x1b\[31mred/);
    await screenshot(page, 'sandbox-logs-1280x800');

    await page.goto(`${base}/#/audit`);
    await page.click('button:text("Verify the chain")');
    const ok = await page.waitForSelector('[data-verify=ok]', { timeout: 60_000 });
    assert.match((await ok.textContent()) ?? '', /^Intact: \d+ entries in \d+ files?/);
    // Each policy entry says what it decided and by which rule, not only "session:ses-…".
    const whats = await page.$$eval('td .audit-what', (l) => l.map((e) => e.textContent ?? ''));
    assert.ok(whats.some((w) => /\[[a-z-]+:[a-z:-]+\]$/.test(w)), JSON.stringify(whats.slice(0, 5)));
    await api(`/api/sandboxes/${started.body.id}/stop`, 'admin', { method: 'POST', body: '{}' });
  });

  const PAGES = ['/', '/sessions', 'SESSION', '/approvals', '/sandboxes', '/projects', '/audit', '/tokens'];

  async function visit(page: Page, route: string): Promise<string> {
    const r = route === 'SESSION' ? `/sessions/${sessionId}` : route;
    await page.goto(`${base}/#${r}`);
    await page.waitForSelector('main h1');
    // Let the first data load and the live streams settle before judging the page.
    await page.waitForLoadState('networkidle').catch(() => undefined);
    await page.waitForTimeout(route === '/' ? 5600 : 400);
    return r === '/' ? 'overview' : r.slice(1).replace(/\//g, '-').replace(/-ses-[0-9a-f]+$/, '-detail');
  }

  it('has no serious or critical axe-core violations on any page, in either size, and saves screenshots', async () => {
    for (const size of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      await admin.page.setViewportSize(size);
      for (const route of PAGES) {
        const name = await visit(admin.page, route);
        const bad = await axeSerious(admin.page);
        assert.deepEqual(bad.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} @ ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);
        // Readable at this size: nothing pushes the page wider than the screen (wide tables scroll in their own region).
        assert.ok(Number(await admin.page.evaluate('document.documentElement.scrollWidth')) <= size.width, `${name} is wider than ${size.width}px`);
        await screenshot(admin.page, `${name}-${size.width}x${size.height}`);
      }
    }
    // Dark mode follows the system: the same pages, judged again.
    await admin.page.setViewportSize({ width: 1280, height: 800 });
    await admin.page.emulateMedia({ colorScheme: 'dark' });
    for (const route of ['/', 'SESSION', '/approvals']) {
      const name = await visit(admin.page, route);
      assert.equal(await admin.page.evaluate('getComputedStyle(document.body).backgroundColor'), 'rgb(19, 20, 23)');
      assert.deepEqual((await axeSerious(admin.page)).map((v) => `${name} (dark): ${v.id} ${v.help}`), []);
      await screenshot(admin.page, `${name}-dark-1280x800`);
    }
    await admin.page.emulateMedia({ colorScheme: 'light' });
    // Logging out from the UI revokes the cookie session on the server: the old cookie is dead.
    const [cookie] = await admin.context.cookies();
    await admin.page.click('button:text("Log out")');
    await admin.page.waitForSelector('#token');
    const replay = await fetch(`${base}/api/status`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } });
    assert.equal(replay.status, 401);
    await admin.page.setViewportSize({ width: 390, height: 844 });
    assert.deepEqual(await axeSerious(admin.page), []);
    await screenshot(admin.page, 'login-390x844');
  });

  it('saw no CSP violation or script error in the whole run', () => {
    assert.deepEqual(admin.problems, []);
  });
});
