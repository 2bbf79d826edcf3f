import assert from 'node:assert/strict';
import { bearer, buildTestGateway, captureLogger, generateToken, startTestDaemon, type TestDaemon } from './helpers.js';

describe('gateway logs', () => {
  let daemon: TestDaemon;
  before(async () => {
    daemon = await startTestDaemon();
  });
  after(async () => daemon?.close());

  it('never writes a token sent in a header, a query string or a body, even at trace level', async () => {
    const { secret } = await generateToken(daemon.adminSocket, { name: 'leaky', role: 'admin' });
    const cap = captureLogger('trace');
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, logger: cap.logger, raw: { log: { level: 'trace' } } });
    try {
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(secret) })).statusCode, 200);
      await gw.app.inject({ url: `/api/status?token=${secret}` });
      await gw.app.inject({ url: `/api/status?access_token=${secret}&x=1`, headers: bearer(secret) });
      await gw.app.inject({ url: `/nowhere/${secret}` });
      await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(secret), payload: { name: 'x', token: secret } });
      await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: { ...bearer(secret), 'content-type': 'application/json' }, payload: `"${secret}` });
      await gw.app.inject({ url: '/api/status', headers: { authorization: `Bearer ${secret}x` } });
      await gw.app.inject({ url: '/api/status', headers: { cookie: `loki_session=${secret}` } });
      const text = cap.text();
      assert.ok(cap.lines.length >= 8, `only ${cap.lines.length} lines captured`);
      const body = secret.slice(5);
      assert.ok(!text.includes(body), 'the token body appears in the log');
      assert.ok(!text.includes(body.slice(0, 24)), 'a prefix of the token body appears in the log');
    } finally {
      await gw.close();
    }
  });

  it('writes one JSON line per request with request_id, subject, route and status', async () => {
    const { secret } = await generateToken(daemon.adminSocket, { name: 'logged', role: 'viewer' });
    const cap = captureLogger('info');
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, logger: cap.logger });
    try {
      const r = await gw.app.inject({ url: '/api/status', headers: bearer(secret) });
      const lines = cap.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request completed');
      assert.equal(lines.length, 1);
      const line = lines[0]!;
      assert.equal(line.request_id, r.headers['x-request-id']);
      assert.equal(line.subject, 'token:logged');
      assert.equal(line.route, '/api/status');
      assert.equal(line.status, 200);
      assert.equal(line.level, 'info');
      assert.equal(line.component, 'http');
      assert.ok(typeof line.time === 'string');
    } finally {
      await gw.close();
    }
  });

  it('changes the log level on reload', async () => {
    const cap = captureLogger('info');
    const gw = await buildTestGateway({ socket: daemon.gatewaySocket, logger: cap.logger });
    try {
      gw.app.loki.reload({ ...gw.config, log: { ...gw.config.log, level: 'warn' } });
      await gw.app.inject({ url: '/health' });
      assert.equal(cap.lines.filter((l) => l.includes('request completed')).length, 0);
      gw.app.loki.reload({ ...gw.config, log: { ...gw.config.log, level: 'info' } });
      await gw.app.inject({ url: '/health' });
      assert.equal(cap.lines.filter((l) => l.includes('request completed')).length, 1);
    } finally {
      await gw.close();
    }
  });
});
