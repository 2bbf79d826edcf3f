// Open SSE streams are long-lived: they must not hold the subject's concurrency
// slots (8 open dashboards would lock the user out), but they are capped per
// subject on their own. Real daemon with the session feature, real gateway on a
// real HTTP port, real token.
import assert from 'node:assert/strict';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDaemonClient, type DaemonClient } from '../../../client/src/grpc/index.js';
import { sessionRouteGroups } from '../../../gateway/src/routes/control.js';
import { startSessionDaemon, until, type SessionDaemon } from '../../daemon/sessions/helpers.js';
import { bearer, buildTestGateway, generateToken, type TestGateway } from '../helpers.js';

interface OpenStream {
  status: number;
  headers: IncomingMessage['headers'];
  body: Promise<string>;
  close(): void;
}

/** Opens a GET and resolves once the response head arrives (an SSE stream stays open after that). */
function open(port: number, path: string, headers: Record<string, string>): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      const body = new Promise<string>((done) => {
        res.on('data', (c: string) => (text += c));
        res.on('end', () => done(text));
        res.on('close', () => done(text));
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('SSE streams and the per-subject limits', function () {
  this.timeout(60_000);
  let sd: SessionDaemon;
  let routesClient: DaemonClient;
  let gw: TestGateway;
  let port: number;
  let auth: Record<string, string>;
  const streams: OpenStream[] = [];

  before(async () => {
    sd = await startSessionDaemon();
    auth = bearer((await generateToken(sd.d.paths.adminSocket, { name: 'dashboards', role: 'viewer' })).secret);
    routesClient = createDaemonClient({ socketPath: sd.d.paths.gatewaySocket, timeoutMs: 5000 });
    gw = await buildTestGateway({
      socket: sd.d.paths.gatewaySocket,
      // queue_ms 0: if streams held concurrency slots, the ordinary request below would fail at once.
      raw: { rate_limit: { per_minute: 1000, burst: 1000, concurrency: 8, queue_ms: 0, max_streams_per_subject: 16 } },
      deps: { routes: sessionRouteGroups(routesClient, { heartbeatMs: 60_000 }) },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const s of streams) s.close();
    await gw?.close();
    routesClient?.close();
    await sd?.cleanup();
  });

  it('keeps ordinary requests working with 16 open streams, refuses the 17th with 429, and frees a place when one closes', async () => {
    let lastRemaining = Infinity;
    for (let i = 0; i < 16; i++) {
      const s = await open(port, i % 2 ? '/api/events' : '/api/events?follow=true', auth);
      streams.push(s);
      assert.equal(s.status, 200, `stream ${i + 1}`);
      assert.match(String(s.headers['content-type']), /^text\/event-stream/);
      // Each stream open is still counted by the rate limiter.
      const remaining = Number(s.headers['ratelimit-remaining']);
      assert.ok(remaining < lastRemaining, `stream ${i + 1} was not counted by the rate limiter`);
      lastRemaining = remaining;
    }
    assert.equal(gw.app.loki.limiter.openStreams('token:dashboards'), 16);

    const status = await gw.app.inject({ method: 'GET', url: '/api/status', headers: auth });
    assert.equal(status.statusCode, 200, status.body);

    const refused = await open(port, '/api/events', auth);
    assert.equal(refused.status, 429);
    const err = JSON.parse(await refused.body) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'resource_exhausted');
    assert.match(err.error.message, /too many open event streams for token:dashboards \(limit 16\)/);

    streams.shift()!.close();
    await until('the closed stream to give its place back', () => gw.app.loki.limiter.openStreams('token:dashboards') === 15);
    const again = await open(port, '/api/events', auth);
    streams.push(again);
    assert.equal(again.status, 200);
  });

  it('gives every place back when the streams close', async () => {
    for (const s of streams.splice(0)) s.close();
    await until('all stream places to be released', () => gw.app.loki.limiter.openStreams('token:dashboards') === 0);
  });
});
