// The dashboard while lokid goes away and comes back (it is a separate process
// from the gateway: an upgrade, a crash, `systemctl restart lokid`), and when
// the signed-in token is revoked, in real Chromium against a real lokid process
// (killed with SIGKILL, or stopped with SIGSTOP: hung) and a real gateway with its default rate limits.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { KEEPALIVE_MS } from '../../client/src/grpc/daemon-client-wire.js';
import { removeHome, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { runEntry, shortTempDir } from '../helpers/entry.js';
import { makeRepo, removeDir, until } from '../daemon/sessions/helpers.js';
import { buildTestGateway, generateToken, revokeToken, type TestGateway } from '../gateway/helpers.js';
import { axeSerious, openBrowser, screenshot, type TestBrowser } from './browser.js';

describe('web dashboard across a lokid outage', function () {
  this.timeout(240_000);
  let home: string;
  let repo: string;
  let lokid: DaemonProcess | undefined;
  let gw: TestGateway;
  let base: string;
  let b: TestBrowser;
  let admin: { secret: string; id: string };
  let sessionId: string;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const r = await fetch(base + path, { ...init, headers: { authorization: `Bearer ${admin.secret}`, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    return { status: r.status, body: (await r.json()) as T };
  };

  before(async () => {
    home = shortTempDir('lk-web-out');
    repo = makeRepo();
    lokid = await spawnDaemon(home);
    const reg = await runEntry('cli', ['--home', home, 'projects', 'register', repo, '--name', 'demo'], { LOKI_HOME: home });
    assert.equal(reg.code, 0, reg.err);
    admin = await generateToken(lokid.paths.adminSocket, { name: 'web-outage', role: 'admin' });
    // The gateway's own defaults (60 requests a minute, burst 10): what an operator's browser gets.
    gw = await buildTestGateway({ socket: lokid.paths.gatewaySocket, raw: { enterprise: { auth: { token_cache_ms: 0 } } } });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
    // A finished session with a few dozen events.
    const plan = Array.from({ length: 8 }, (_, i) => `- run: echo step ${i}\n`).join('');
    const started = await api<{ id: string }>('/api/control/start', { method: 'POST', body: JSON.stringify({ prompt: 'outage', provider: 'script', project: 'demo', plan }) });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    sessionId = started.body.id;
    await until('the session to complete', async () => (await api<{ state: string }>(`/api/sessions/${sessionId}`)).body.state === 'completed', 120_000);
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    gw?.app.server.closeAllConnections();
    await gw?.close();
    await lokid?.stop();
    if (home) removeHome(home);
    if (repo) removeDir(repo);
  });

  it('opens a session with dozens of events without running into the rate limit', async () => {
    const total = (await api<{ events_total: number }>(`/api/sessions/${sessionId}`)).body.events_total;
    assert.ok(total > 20, `only ${total} events`);
    // Let the test's own requests above leave the bucket before the browser starts.
    await new Promise((r) => setTimeout(r, 10_000));
    await b.page.goto(`${base}/`);
    await b.page.fill('#token', admin.secret);
    await b.page.click('button[type=submit]');
    await b.page.waitForSelector('nav[aria-label=Main]');
    await b.page.goto(`${base}/#/sessions/${sessionId}`);
    await b.page.waitForSelector(`.events li[data-seq="${total}"]`);
    await b.page.waitForSelector('.facts .state:text-is("completed")');
    await b.page.waitForTimeout(1500);
    assert.deepEqual(await b.page.$$eval('main [role=alert]', (l) => l.map((e) => e.textContent)), []);
    assert.deepEqual(b.problems.filter((p) => / 429 /.test(p)), []);
  });

  // lokid there but not answering (stopped; an event loop stuck): nothing fails at once, and the page has no call
  // of its own to time out. Before the daemon client pinged lokid, its open stream stayed silent and the page live.
  it('says it is not live while lokid hangs, within the ping bound, and is live again once lokid answers', async () => {
    const page = b.page;
    await page.goto(`${base}/#/sessions`);
    await page.waitForSelector(`tr[data-session="${sessionId}"]`);
    // Let the list's reload on the stream's replayed events finish: a call in flight would fail at its deadline anyway.
    await page.waitForTimeout(2000);
    const stopped = Date.now();
    process.kill(lokid!.child.pid!, 'SIGSTOP');
    try {
      await page.waitForSelector('[data-link=down]', { timeout: KEEPALIVE_MS.time + KEEPALIVE_MS.timeout + 10_000 });
      process.stdout.write(`      (not live ${((Date.now() - stopped) / 1000).toFixed(1)} s after lokid stopped)\n`);
    } finally {
      process.kill(lokid!.child.pid!, 'SIGCONT');
    }
    await page.waitForSelector('[data-link=down]', { state: 'detached', timeout: 30_000 });
    await page.waitForSelector(`tr[data-session="${sessionId}"]`);
  });

  it('says it is not live while lokid is down, keeps a reloaded page off the login form, and is live again by itself', async () => {
    const page = b.page;
    await page.goto(`${base}/#/sessions`);
    await page.waitForSelector(`tr[data-session="${sessionId}"]`);
    await screenshot(page, 'outage-before-1280x800');
    await lokid!.stop('SIGKILL');
    const down = await page.waitForSelector('[data-link=down]', { timeout: 15_000 });
    assert.match((await down.textContent()) ?? '', /^Not live: Loki’s daemon \(lokid\) is not answering since .*may be out of date/);
    // The data stays on screen, under the banner, rather than a blank page.
    assert.ok(await page.$(`tr[data-session="${sessionId}"]`));
    assert.deepEqual((await axeSerious(page)).map((v) => `${v.id}: ${v.help}`), []);
    await screenshot(page, 'outage-down-1280x800');

    // Reloaded during the outage: not the login form (the sign-in is fine; lokid is not answering).
    await page.reload();
    await page.waitForSelector('h1:text("Loki is not answering")');
    assert.equal(await page.$('#token'), null);
    await page.waitForSelector('[data-link=down]');

    const restarted = Date.now();
    lokid = await spawnDaemon(home);
    await page.waitForSelector('nav[aria-label=Main]', { timeout: 150_000 });
    await page.waitForSelector(`tr[data-session="${sessionId}"]`, { timeout: 30_000 });
    assert.equal(await page.$('[data-link=down]'), null);
    process.stdout.write(`      (live again ${((Date.now() - restarted) / 1000).toFixed(1)} s after lokid was started again)\n`);
    await screenshot(page, 'outage-after-1280x800');
  });

  it('asks to sign in again, with the reason, when the token is revoked while the page is open', async () => {
    const page = b.page;
    await page.goto(`${base}/#/sessions/${sessionId}`);
    await page.waitForSelector('.facts');
    await revokeToken(lokid!.paths.adminSocket, admin.id);
    // The event streams' goodbye (an SSE `unauthenticated` error) or the next call's 401, within the recheck period.
    const note = await page.waitForSelector('[data-link=signed-out]', { timeout: 30_000 });
    assert.match((await note.textContent()) ?? '', /^Your sign-in has ended: /);
    assert.ok(await page.$('#token'), 'the login form is offered');
    await screenshot(page, 'signed-out-1280x800');
  });
});
