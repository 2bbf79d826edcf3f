// Sandboxes over HTTP end to end: real gateway (listening, real WebSocket and
// SSE), real daemon, real dockerd. Lifecycle, logs, exec and an interactive
// TTY shell (resize, exit code), ownership between two operators, tickets.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { WebSocket } from 'ws';
import { containerName } from '../../daemon/src/sandbox/docker-driver.js';
import { SANDBOX_IMAGE, startTestDaemon } from '../helpers/daemon.js';
import { STREAM_RECHECK_MS } from '../../gateway/src/plugins/stream-credentials.js';
import { bearer, buildTestGateway, generateToken, revokeToken, type TestGateway } from '../gateway/helpers.js';
import { readSse } from '../gateway/sse-client.js';
import { freePort } from '../helpers/ports.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

interface WsRun {
  out: string;
  err: string;
  exit?: number;
  error?: { code: string; message: string };
  closeCode: number;
  closeReason: string;
}

/** Opens exec/shell, sends `start`, then runs `script(ws)`; resolves on close. */
function wsRun(url: string, headers: Record<string, string>, start: Record<string, unknown>, tty: boolean, script: (ws: WebSocket, out: () => string) => void = () => undefined): Promise<WsRun> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const r: WsRun = { out: '', err: '', closeCode: 0, closeReason: '' };
    ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'start', ...start }));
      script(ws, () => r.out);
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        const m = JSON.parse(data.toString('utf8')) as { type: string; exit_code?: number; error?: WsRun['error'] };
        if (m.type === 'exit') r.exit = m.exit_code;
        if (m.type === 'error') r.error = m.error;
        return;
      }
      if (tty) r.out += data.toString('utf8');
      else if (data[0] === 2) r.err += data.subarray(1).toString('utf8');
      else r.out += data.subarray(1).toString('utf8');
    });
    ws.on('close', (code, reason) => {
      r.closeCode = code;
      r.closeReason = reason.toString('utf8');
      resolve(r);
    });
  });
}

/** Resolves with the HTTP status of a refused upgrade (or 101). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => resolve(-1));
  });
}

describe('sandboxes HTTP API (real dockerd)', function () {
  this.timeout(180_000);
  let d: Awaited<ReturnType<typeof startTestDaemon>>;
  let gw: TestGateway;
  let base: string;
  let wsBase: string;
  const tok: Record<string, string> = {};
  let id = '';

  before(async function () {
    if (!(await docker.getImage(SANDBOX_IMAGE).inspect().catch(() => undefined))) throw new Error(`the sandbox image ${SANDBOX_IMAGE} is missing`);
    d = await startTestDaemon();
    for (const [name, role] of [['alice', 'operator'], ['bob', 'operator'], ['viewer', 'viewer']] as const) tok[name] = (await generateToken(d.paths.adminSocket, { name, role })).secret;
    gw = await buildTestGateway({ socket: d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: await freePort() });
    const port = (gw.app.server.address() as AddressInfo).port;
    base = `127.0.0.1:${port}`;
    wsBase = `ws://${base}`;
  });

  after(async () => {
    await gw?.close();
    for (const s of (await d?.manager.list({ role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: '', clientIp: '' }, true)) ?? []) {
      await docker.getContainer(containerName(s.id)).remove({ force: true }).catch(() => undefined);
    }
    await d?.cleanup();
  });

  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, who: string, payload?: Record<string, unknown>) =>
    gw.app.inject({ method, url, headers: bearer(tok[who]!), ...(payload ? { payload } : {}) });

  it('starts a sandbox for its owner, and only the owner (or *) sees it', async () => {
    assert.equal((await req('POST', '/api/sandboxes', 'viewer', { name: 'nope' })).statusCode, 403);
    const r = await req('POST', '/api/sandboxes', 'alice', { name: 'alice-box', project: 'demo', command: ['/bin/sh', '-c', 'echo started; echo oops >&2; exec sleep 600'] });
    assert.equal(r.statusCode, 201, r.body);
    const sb = r.json<{ id: string; owner: string; state: string; hardening: { read_only_rootfs: boolean; network_mode: string } }>();
    id = sb.id;
    assert.match(id, /^sbx-[0-9a-f]{12}$/);
    assert.equal(sb.owner, 'token:alice');
    assert.equal(sb.state, 'running');
    assert.equal(sb.hardening.read_only_rootfs, true);
    assert.equal(sb.hardening.network_mode, 'none');

    assert.deepEqual((await req('GET', '/api/sandboxes', 'alice')).json<{ sandboxes: { id: string }[] }>().sandboxes.map((s) => s.id), [id]);
    assert.deepEqual((await req('GET', '/api/sandboxes', 'bob')).json<{ sandboxes: unknown[] }>().sandboxes, []);
    assert.equal((await req('GET', `/api/sandboxes/${id}`, 'alice')).json<{ name: string }>().name, 'alice-box');
    assert.equal((await req('GET', '/api/sandboxes/alice-box', 'alice')).json<{ id: string }>().id, id, 'by name too');
    assert.equal((await req('GET', `/api/sandboxes/${id}`, 'bob')).statusCode, 404);
    assert.equal((await req('POST', `/api/sandboxes/${id}/stop`, 'bob', {})).statusCode, 404);
    assert.equal((await req('DELETE', `/api/sandboxes/${id}`, 'bob')).statusCode, 404);
  });

  it('refuses a relaxation the daemon config does not allow (two keys)', async () => {
    const r = await req('POST', '/api/sandboxes', 'alice', { network: true });
    assert.equal(r.statusCode, 403, r.body);
  });

  it('streams logs on SSE, stdout and stderr apart', async () => {
    const got = await readSse(Number(base.split(':')[1]), `/api/sandboxes/${id}/logs?follow=false`, bearer(tok.alice!), () => false, 20_000);
    assert.equal(got.status, 200);
    assert.equal(got.headers['x-accel-buffering'], 'no');
    const out = got.events.filter((e) => e.event === 'stdout').map((e) => (e.data as { data: string }).data).join('');
    const err = got.events.filter((e) => e.event === 'stderr').map((e) => (e.data as { data: string }).data).join('');
    assert.match(out, /started/);
    assert.match(err, /oops/);
    const foreign = await gw.app.inject({ url: `/api/sandboxes/${id}/logs?follow=false`, headers: bearer(tok.bob!) });
    assert.equal(foreign.statusCode, 404);
  });

  it('runs a command over the exec WebSocket with stdin, both output streams and the exit code', async () => {
    const r = await wsRun(`${wsBase}/api/sandboxes/${id}/exec`, bearer(tok.alice!), { argv: ['/bin/sh', '-c', 'read x; echo "got $x"; echo warn >&2; exit 3'] }, false, (ws) => {
      ws.send(Buffer.from('hello\n'), { binary: true });
      ws.send(JSON.stringify({ type: 'close_stdin' }));
    });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.out, 'got hello\n');
    assert.equal(r.err, 'warn\n');
    assert.equal(r.exit, 3);
    assert.equal(r.closeCode, 1000);
  });

  it('gives an interactive TTY shell that follows resizes and reports the exit code', async () => {
    const r = await wsRun(`${wsBase}/api/sandboxes/${id}/shell`, bearer(tok.alice!), { argv: [], cols: 80, rows: 24 }, true, (ws, out) => {
      const wait = (re: RegExp) => new Promise<void>((res) => {
        const t = setInterval(() => {
          if (re.test(out())) {
            clearInterval(t);
            res();
          }
        }, 20);
      });
      void (async () => {
        ws.send(Buffer.from('stty size; tty\n'), { binary: true });
        await wait(/24 80/);
        ws.send(JSON.stringify({ type: 'resize', cols: 132, rows: 50 }));
        await new Promise((res) => setTimeout(res, 300));
        ws.send(Buffer.from('stty size\n'), { binary: true });
        await wait(/50 132/);
        ws.send(Buffer.from('exit 7\n'), { binary: true });
      })();
    });
    assert.match(r.out, /24 80/);
    assert.match(r.out, /\/dev\/pts\//, 'a real terminal');
    assert.match(r.out, /50 132/);
    assert.equal(r.exit, 7);
  });

  it('guards the WebSocket like any route: no credential 401, no control scope 403, not yours 1008, a ticket works once', async () => {
    assert.equal(await upgradeStatus(`${wsBase}/api/sandboxes/${id}/exec`, {}), 401);
    assert.equal(await upgradeStatus(`${wsBase}/api/sandboxes/${id}/exec`, bearer(tok.viewer!)), 403);
    assert.equal(await upgradeStatus(`${wsBase}/api/sandboxes/${id}/exec?access_token=${tok.alice!}`, {}), 401);
    const foreign = await wsRun(`${wsBase}/api/sandboxes/${id}/exec`, bearer(tok.bob!), { argv: ['true'] }, false);
    assert.equal(foreign.error?.code, 'sandbox_not_found');
    assert.equal(foreign.closeCode, 1008);

    const path = `/api/sandboxes/${id}/exec`;
    const t = (await req('POST', '/api/auth/stream-ticket', 'alice', { path })).json<{ ticket: string }>();
    const ok = await wsRun(`${wsBase}${path}?ticket=${t.ticket}`, {}, { argv: ['/bin/echo', 'via ticket'] }, false);
    assert.equal(ok.out, 'via ticket\n');
    assert.equal(ok.exit, 0);
    assert.equal(await upgradeStatus(`${wsBase}${path}?ticket=${t.ticket}`, {}), 401, 'single use');
    const viewerTicket = await req('POST', '/api/auth/stream-ticket', 'viewer', { path });
    assert.equal(viewerTicket.statusCode, 403, 'a ticket never carries more than its subject may do');

    // Regression: a refused upgrade left its socket open for good (a descriptor leak per attempt).
    const open = () => new Promise<number>((res, rej) => gw.app.server.getConnections((e, n) => (e ? rej(e) : res(n))));
    for (let i = 0; i < 100 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await open(), 0, 'every refused or finished upgrade released its socket');
  });

  it('refuses a bad start message with a clear error', async () => {
    const r = await wsRun(`${wsBase}/api/sandboxes/${id}/exec`, bearer(tok.alice!), { argv: ['true'], cols: 1.5 }, false);
    assert.equal(r.error?.code, 'invalid_argument');
    assert.match(r.error?.message ?? '', /start\/cols/);
    assert.equal(r.closeCode, 1008);
  });

  it('closes an open exec WebSocket once its token is revoked, within the re-check period, with an error and close 1008 a client can show', async () => {
    const carol = await generateToken(d.paths.adminSocket, { name: 'carol', role: 'operator' });
    tok.carol = carol.secret;
    const box = await req('POST', '/api/sandboxes', 'carol', { name: 'carol-box', command: ['/bin/sh', '-c', 'exec sleep 600'] });
    assert.equal(box.statusCode, 201, box.body);
    const path = `/api/sandboxes/${box.json<{ id: string }>().id}/exec`;
    const t = (await req('POST', '/api/auth/stream-ticket', 'carol', { path })).json<{ ticket: string }>();
    const sockets: WebSocket[] = [];
    const keep = (ws: WebSocket) => void sockets.push(ws);
    // Opened with the header and with a ticket; each runs a command that would outlive the test.
    const runs = [wsRun(`${wsBase}${path}`, bearer(carol.secret), { argv: ['sleep', '600'] }, false, keep), wsRun(`${wsBase}${path}?ticket=${t.ticket}`, {}, { argv: ['sleep', '600'] }, false, keep)];
    await new Promise((r) => setTimeout(r, 1_000));
    await revokeToken(d.paths.adminSocket, carol.id);
    const revokedAt = Date.now();
    // The gateway's token cache (5 s), then the next re-check.
    const LIMIT = 5_000 + 2 * STREAM_RECHECK_MS + 3_000;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([Promise.all(runs), new Promise<'open'>((r) => (timer = setTimeout(() => r('open'), LIMIT)))]);
    clearTimeout(timer);
    for (const ws of sockets) ws.terminate();
    assert.notEqual(ended, 'open', `the WebSocket outlived its revoked token by ${LIMIT} ms`);
    for (const r of ended as WsRun[]) {
      assert.equal(r.closeCode, 1008);
      assert.equal(r.closeReason, 'unauthenticated');
      assert.equal(r.error?.code, 'unauthenticated');
      assert.match(r.error?.message ?? '', /no longer valid \(revoked, expired or signed out\); sign in again/);
      assert.equal(r.exit, undefined, 'ended by the gateway, not by the command');
    }
    assert.ok(Date.now() - revokedAt < LIMIT);
  });

  it('stops and removes the sandbox', async () => {
    const stopped = await req('POST', `/api/sandboxes/${id}/stop`, 'alice', { keep: true, timeout_seconds: 1 });
    assert.equal(stopped.statusCode, 200, stopped.body);
    assert.equal(stopped.json<{ removed: boolean }>().removed, false);
    const removed = await req('DELETE', `/api/sandboxes/${id}`, 'alice');
    assert.equal(removed.statusCode, 200, removed.body);
    assert.equal((await req('GET', `/api/sandboxes/${id}`, 'alice')).statusCode, 404);
  });
});
