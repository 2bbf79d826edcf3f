// The gateway's streams while lokid is alive but not answering: stopped (SIGSTOP) or its event loop
// stuck. lokid runs as its own process (the systemd shape), with a real session in a real sandbox;
// the gateway and the clients are real, over real HTTP, WebSocket and the admin socket. Before the
// daemon client sent keepalive pings, every open SSE stream stayed open and silent (heartbeats only)
// for as long as lokid was stopped: 148 s when the test gave up.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { KEEPALIVE_MS } from '../../client/src/grpc/daemon-client-wire.js';
import { removeHome, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { entryArgv, runEntry, shortTempDir } from '../helpers/entry.js';
import { freePort } from '../helpers/ports.js';
import { makeRepo, removeDir, until } from '../daemon/sessions/helpers.js';
import { buildTestGateway, generateToken, type TestGateway } from './helpers.js';
import { lastFrameWithin } from './sse-client.js';

/** The longest a stream may stay open once lokid stops answering: a ping's wait, its timeout, and some slack. */
const BOUND_MS = KEEPALIVE_MS.time + KEEPALIVE_MS.timeout + 5_000;

interface Cli {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; atMs: number }>;
}

/** The real `loki` on lokid's admin socket, with grpc-js's keepalive trace on stderr. */
function cli(home: string, socket: string, args: string[]): Cli {
  const child = spawn(process.execPath, [...entryArgv('cli'), ...args], {
    env: { PATH: process.env.PATH ?? '', LOKI_HOME: home, LOKI_SOCKET: socket, GRPC_TRACE: 'keepalive', GRPC_VERBOSITY: 'DEBUG' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; atMs: number }>((resolve) => child.once('exit', (code) => resolve({ code, atMs: Date.now() })));
  return { child, output: () => out, exited };
}

describe('gateway streams while lokid hangs', function () {
  this.timeout(300_000);
  let home: string;
  let repo: string;
  let lokid: DaemonProcess | undefined;
  let gw: TestGateway;
  let base: string;
  let admin: { secret: string; id: string };
  let sessionId: string;
  let sandboxId: string;
  const clis: Cli[] = [];

  const auth = () => ({ authorization: `Bearer ${admin.secret}` });
  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const r = await fetch(base + path, { ...init, headers: { ...auth(), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    return { status: r.status, body: (await r.json()) as T };
  };
  const signal = (s: NodeJS.Signals) => process.kill(lokid!.child.pid!, s);

  before(async () => {
    home = shortTempDir('lk-hang');
    repo = makeRepo();
    lokid = await spawnDaemon(home);
    const reg = await runEntry('cli', ['--home', home, 'projects', 'register', repo, '--name', 'demo'], { LOKI_HOME: home });
    assert.equal(reg.code, 0, reg.err);
    admin = await generateToken(lokid.paths.adminSocket, { name: 'hang', role: 'admin' });
    gw = await buildTestGateway({ socket: lokid.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: await freePort() });
    base = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
    // A session whose sandbox keeps running: its event streams, its sandbox's logs and a shell stay open.
    const started = await api<{ id: string }>('/api/control/start', { method: 'POST', body: JSON.stringify({ prompt: 'hang', provider: 'script', project: 'demo', plan: '- run: echo hi; sleep 600\n' }) });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    sessionId = started.body.id;
    await until(
      'the session to run in its sandbox',
      async () => {
        const s = (await api<{ state: string; sandbox_id: string | null }>(`/api/sessions/${sessionId}`)).body;
        sandboxId = s.sandbox_id ?? '';
        return s.state === 'running' && !!sandboxId;
      },
      120_000,
    );
  });

  after(async () => {
    for (const c of clis) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    if (lokid?.child.exitCode === null) signal('SIGCONT');
    // The session's sandbox goes with it (lokid leaves a stopped session's container behind).
    if (sessionId && lokid?.child.exitCode === null) {
      await api('/api/control/stop', { method: 'POST', body: JSON.stringify({ session_id: sessionId }) }).catch(() => undefined);
      await until('the session to end', async () => !['running', 'stopping'].includes((await api<{ state: string }>(`/api/sessions/${sessionId}`)).body.state), 60_000).catch(() => undefined);
      await api(`/api/sessions/${sessionId}/workspace`, { method: 'DELETE' }).catch(() => undefined);
    }
    gw?.app.server.closeAllConnections();
    await gw?.close();
    await lokid?.stop();
    if (home) removeHome(home);
    if (repo) removeDir(repo);
  });

  it('keeps an idle stream open over several ping intervals, and through a pause of lokid shorter than the ping timeout', async () => {
    const follow = cli(home, lokid!.paths.adminSocket, ['sessions', 'logs', sessionId, '--follow']);
    clis.push(follow);
    const res = await fetch(`${base}/api/events`, { headers: auth() });
    assert.equal(res.status, 200);
    const stream = lastFrameWithin(res, 3.5 * KEEPALIVE_MS.time + 8_000);
    await new Promise((r) => setTimeout(r, 2 * KEEPALIVE_MS.time));
    // A long GC pause or a heavy synchronous moment: lokid answers the pings late, but within their timeout.
    signal('SIGSTOP');
    await new Promise((r) => setTimeout(r, KEEPALIVE_MS.timeout - 3_000));
    signal('SIGCONT');
    const last = await stream;
    assert.equal(last.ended, 'open', `the stream ended: ${last.text.slice(-300)}`);
    assert.ok(!/event: error/.test(last.text), last.text.slice(-300));
    assert.equal(follow.child.exitCode, null, follow.output().slice(-1000));
    // The pings really went out and came back (a healthy lokid is not cut by them).
    const answered = follow.output().match(/Received ping response/g)?.length ?? 0;
    assert.ok(answered >= 3, `${answered} pings answered:\n${follow.output().slice(-2000)}`);
    assert.doesNotMatch(follow.output(), /too_many_pings|Ping timeout/);
    follow.child.kill();
  });

  it('ends every open stream with a daemon_unavailable error within the bound, in the Loki error shape', async () => {
    const paths = ['/api/events', `/api/sessions/${sessionId}/events`, '/api/approvals/events', `/api/sandboxes/${sandboxId}/logs?follow=true`];
    const opened = await Promise.all(paths.map((p) => fetch(base + p, { headers: auth() })));
    for (const [i, r] of opened.entries()) assert.equal(r.status, 200, paths[i]);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/sandboxes/${sandboxId}/shell`, { headers: auth() });
    const wsEnd = new Promise<{ messages: string[]; close: number }>((resolve, reject) => {
      const messages: string[] = [];
      ws.on('open', () => ws.send(JSON.stringify({ type: 'start' })));
      ws.on('message', (d, binary) => binary || messages.push(d.toString()));
      ws.on('close', (close) => resolve({ messages, close }));
      ws.on('error', reject);
    });
    const follow = cli(home, lokid!.paths.adminSocket, ['sessions', 'logs', sessionId, '--follow']);
    clis.push(follow);
    await new Promise((r) => setTimeout(r, 3_000));

    const stopped = Date.now();
    signal('SIGSTOP');
    const frames = await Promise.all(opened.map((r) => lastFrameWithin(r, BOUND_MS)));
    const took = Date.now() - stopped;
    process.stdout.write(`      (every stream ended ${(took / 1000).toFixed(1)} s after lokid stopped)\n`);
    for (const [i, f] of frames.entries()) {
      assert.equal(f.ended, 'end', `${paths[i]} stayed open: ${f.text.slice(-300)}`);
      assert.equal(f.event, 'error', `${paths[i]}: ${f.text.slice(-300)}`);
      const body = f.data as { error: { code: string; message: string; request_id: string }; code?: string; message?: string };
      assert.equal(body.error.code, 'daemon_unavailable', paths[i]);
      assert.equal(body.error.message, 'the Loki daemon is not answering', paths[i]);
      assert.ok(body.error.request_id, `${paths[i]} names its request`);
      // Session streams keep their old top-level fields (documented in api.md); the others have only `error`.
      if (paths[i]!.includes('events') && !paths[i]!.includes('approvals')) assert.deepEqual([body.code, body.message], [body.error.code, body.error.message], paths[i]);
      else assert.deepEqual(Object.keys(body), ['error'], paths[i]);
    }
    const shell = await Promise.race([wsEnd, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))]);
    assert.ok(shell, 'the shell WebSocket stayed open');
    assert.equal(shell.close, 1011);
    assert.equal((JSON.parse(shell.messages.at(-1)!) as { error: { code: string } }).error.code, 'daemon_unavailable');

    // A stream opened now is refused (the gateway's call deadline), not left open and silent.
    const again = await fetch(`${base}/api/events`, { headers: auth() });
    assert.equal(again.status, 503);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'daemon_unavailable');

    // `--follow` reconnects, and its new stream waits for a connection lokid never completes: bounded
    // too (KEEPALIVE_MS.timeout per try), so after its tries it says lokid is not answering (exit 8).
    const gone = await Promise.race([follow.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 120_000))]);
    assert.ok(gone, `loki sessions logs --follow still running ${(Date.now() - stopped) / 1000} s after lokid stopped:\n${follow.output().slice(-1500)}`);
    assert.equal(gone.code, 8, follow.output().slice(-1500));
    assert.match(follow.output(), /lokid is not answering \(nothing answers on .*admin\.sock\): .* it is hung/);
    // Not silent meanwhile: each try is announced.
    assert.match(follow.output(), /loki: the stream was cut \(.+\); reconnecting in \d+\.\d s \(try 1 of 5\)/);
    assert.match(follow.output(), /\(try 5 of 5\)/);
    process.stdout.write(`      (loki sessions logs --follow exited ${((gone.atMs - stopped) / 1000).toFixed(1)} s after lokid stopped)\n`);
  });
});
