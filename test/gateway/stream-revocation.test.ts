// A viewer opens an event stream, then its token is revoked (or expires): the
// stream must not go on delivering events for as long as the connection lasts.
// Over real HTTP, with the Authorization header and with a stream ticket.
import assert from 'node:assert/strict';
import { Agent, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STREAM_GOODBYE_MS, STREAM_RECHECK_MS } from '../../gateway/src/plugins/stream-credentials.js';
import { bearer, buildTestGateway, generateToken, revokeToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';
import { freePort } from '../helpers/ports.js';
import { endsWithin, lastFrameWithin } from './sse-client.js';

describe('an open stream whose token is revoked', function () {
  this.timeout(90_000);
  let daemon: TestDaemon;
  let gw: TestGateway;
  let base: string;

  before(async () => {
    daemon = await startTestDaemon();
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 10_000, burst: 10_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: await freePort() });
    base = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    gw?.app.server.closeAllConnections();
    await gw?.close();
    await daemon?.close();
  });

  // Revocation reaches the gateway within its token cache (5 s), then the next check cuts the stream.
  const LIMIT = 5_000 + 2 * STREAM_RECHECK_MS + 3_000;

  it('is cut once the gateway sees the revocation (Authorization header)', async () => {
    const tok = await generateToken(daemon.adminSocket, { name: 'watcher-h', role: 'viewer' });
    const res = await fetch(`${base}/api/events`, { headers: bearer(tok.secret) });
    assert.equal(res.status, 200);
    await revokeToken(daemon.adminSocket, tok.id);
    assert.notEqual(await endsWithin(res, LIMIT), 'open', 'the stream outlived its revoked token');
    const again = await fetch(`${base}/api/events`, { headers: bearer(tok.secret) });
    assert.equal(again.status, 401);
    await again.body?.cancel();
  });

  it('is cut once the gateway sees the revocation (stream ticket)', async () => {
    const tok = await generateToken(daemon.adminSocket, { name: 'watcher-t', role: 'viewer' });
    const t = await fetch(`${base}/api/auth/stream-ticket`, { method: 'POST', headers: { ...bearer(tok.secret), 'content-type': 'application/json' }, body: JSON.stringify({ path: '/api/events' }) });
    const { ticket } = (await t.json()) as { ticket: string };
    const res = await fetch(`${base}/api/events?ticket=${ticket}`);
    assert.equal(res.status, 200);
    await revokeToken(daemon.adminSocket, tok.id);
    assert.notEqual(await endsWithin(res, LIMIT), 'open', 'the stream outlived its revoked token');
  });

  it('is cut once its dashboard session logs out, though the token lives on', async () => {
    const tok = await generateToken(daemon.adminSocket, { name: 'watcher-web', role: 'viewer' });
    const login = await fetch(`${base}/auth/session`, { method: 'POST', headers: { origin: base, 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.secret }) });
    assert.equal(login.status, 201);
    const { csrf_token: csrf } = (await login.json()) as { csrf_token: string };
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const res = await fetch(`${base}/api/events`, { headers: { cookie } });
    assert.equal(res.status, 200);
    const out = await fetch(`${base}/auth/session/logout`, { method: 'POST', headers: { cookie, origin: base, 'x-csrf-token': csrf } });
    assert.equal(out.status, 200);
    assert.notEqual(await endsWithin(res, STREAM_RECHECK_MS + 3_000), 'open', 'the stream outlived the logout');
    const still = await fetch(`${base}/api/events`, { headers: bearer(tok.secret) });
    assert.equal(still.status, 200, 'the token itself was not revoked');
    await still.body?.cancel();
  });

  // The SSE twin of the WebSocket's close 1008 "unauthenticated": a client must learn why, or it
  // would reconnect, be refused, and have nothing to tell its user but "the stream was cut".
  for (const path of ['/api/events', '/api/approvals/events']) {
    it(`says goodbye on ${path} with an unauthenticated error event, then ends the stream`, async () => {
      const tok = await generateToken(daemon.adminSocket, { name: `watcher-bye-${path.split('/')[2]}`, role: 'viewer' });
      const res = await fetch(`${base}${path}`, { headers: bearer(tok.secret) });
      assert.equal(res.status, 200);
      await revokeToken(daemon.adminSocket, tok.id);
      const last = await lastFrameWithin(res, LIMIT);
      assert.equal(last.ended, 'end', `the server ended the stream after its goodbye, not cut it: ${last.text.slice(-500)}`);
      assert.equal(last.event, 'error');
      const body = last.data as { error: { code: string; message: string; request_id: string }; code?: string; message?: string };
      assert.equal(body.error.code, 'unauthenticated');
      assert.match(body.error.message, /no longer valid .*sign in again/);
      assert.ok(body.error.request_id);
      // A session event stream also keeps the top-level code and message it always had (api.md).
      if (path === '/api/events') assert.deepEqual([body.code, body.message], [body.error.code, body.error.message]);
      else assert.deepEqual(Object.keys(body), ['error']);
    });
  }

  it('leaves the kept-alive connection of a stream it said goodbye on to the next request', async () => {
    const gone = await generateToken(daemon.adminSocket, { name: 'watcher-ka-1', role: 'viewer' });
    const next = await generateToken(daemon.adminSocket, { name: 'watcher-ka-2', role: 'viewer' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const open = (secret: string) => new Promise<IncomingMessage>((resolve, reject) => get(`${base}/api/events`, { agent, headers: bearer(secret) }, resolve).on('error', reject));
    try {
      const first = await open(gone.secret);
      const sockets = new Set([first.socket]);
      await revokeToken(daemon.adminSocket, gone.id);
      const text = await new Promise<string>((resolve, reject) => {
        let t = '';
        first.setEncoding('utf8').on('data', (c: string) => (t += c)).on('end', () => resolve(t)).on('error', reject);
      });
      assert.match(text, /event: error\ndata: \{"error":\{"code":"unauthenticated"/);
      // The same connection now carries another user's stream: the goodbye's deadline must not cut it.
      const second = await open(next.secret);
      sockets.add(second.socket);
      assert.equal(sockets.size, 1, 'the second stream reused the connection');
      const cut = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), STREAM_GOODBYE_MS + 2 * STREAM_RECHECK_MS);
        second.socket.once('close', () => (clearTimeout(t), resolve(true)));
        second.resume();
      });
      assert.equal(cut, false, 'the next stream on the connection was cut');
    } finally {
      agent.destroy();
    }
  });

  it('stays open while the token is valid', async () => {
    const tok = await generateToken(daemon.adminSocket, { name: 'watcher-ok', role: 'viewer' });
    const res = await fetch(`${base}/api/events`, { headers: bearer(tok.secret) });
    assert.equal(await endsWithin(res, 2 * STREAM_RECHECK_MS + 1_000), 'open');
  });
});
