// Gateway-observed events reach the daemon's real audit log (AuditService).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createLogger } from '../../common/src/index.js';
import { auditConfigSchema, createAuditModule, createAuditRuntime } from '../../daemon/src/audit/index.js';
import { listenUnix, shutdownServer } from '../../daemon/src/grpc/listeners.js';
import { AuditForwarder } from '../../gateway/src/audit-forwarder.js';
import { createDaemonClient } from '../../client/src/grpc/index.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, tempDir, type TestDaemon, type TestGateway } from './helpers.js';

describe('gateway audit events', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  const tok: Record<string, string> = {};
  before(async () => {
    daemon = await startTestDaemon();
    for (const role of ['admin', 'viewer', 'auditor']) tok[role] = (await generateToken(daemon.adminSocket, { name: `a-${role}`, role })).secret;
    gw = await buildTestGateway({ socket: daemon.gatewaySocket });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('records failed authentication, denied routes and token management with the right user, address and result', async () => {
    await gw.app.inject({ url: '/api/status', headers: bearer('loki_' + 'E'.repeat(43)), remoteAddress: '192.0.2.77' });
    await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(tok.viewer!), payload: { name: 'nope' } });
    const made = await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(tok.admin!), payload: { name: 'via-gw', role: 'viewer' } });
    assert.equal(made.statusCode, 201);
    const dup = await gw.app.inject({ method: 'POST', url: '/api/enterprise/tokens', headers: bearer(tok.admin!), payload: { name: 'via-gw', role: 'viewer' } });
    assert.equal(dup.statusCode, 409);
    assert.equal((await gw.app.inject({ method: 'DELETE', url: `/api/enterprise/tokens/${made.json().id}`, headers: bearer(tok.admin!) })).statusCode, 200);
    await Promise.race([gw.app.loki.audit.idle(), new Promise((_, reject) => setTimeout(() => reject(new Error('audit events not delivered within 5 s')), 5000))]);

    const r = await gw.app.inject({ url: '/api/enterprise/audit?limit=50', headers: bearer(tok.auditor!) });
    assert.equal(r.statusCode, 200, r.body);
    const entries = r.json().entries as { action: string; user: string; ip: string; result: string; reason?: string; resource: string }[];
    const fail = entries.find((e) => e.action === 'auth.fail');
    assert.ok(fail, JSON.stringify(entries));
    assert.equal(fail.ip, '192.0.2.77');
    assert.equal(fail.result, 'denied');
    assert.equal(fail.reason, 'malformed');
    const denied = entries.find((e) => e.action === 'access.denied');
    assert.ok(denied);
    assert.equal(denied.user, 'token:a-viewer');
    assert.equal(denied.resource, 'route:POST /api/enterprise/tokens');
    const gen = entries.find((e) => e.action === 'token.generate' && e.user === 'token:a-admin' && e.result === 'success');
    assert.ok(gen, 'token.generate through the gateway is audited by the daemon as the token user');
    assert.equal(gen.result, 'success');
    assert.ok(entries.some((e) => e.action === 'token.generate' && e.user === 'token:a-admin' && e.result === 'error'), 'the failed generate is audited too');
    const revoke = entries.find((e) => e.action === 'token.revoke');
    assert.ok(revoke && revoke.user === 'token:a-admin' && revoke.result === 'success' && revoke.resource === `token:${made.json().id}`);
    assert.ok(!r.body.includes(made.json().token.slice(5)), 'no secret in the audit log');

    const summary = await gw.app.inject({ url: '/api/enterprise/audit/summary', headers: bearer(tok.auditor!) });
    assert.equal(summary.statusCode, 200);
    assert.ok(summary.json().total >= 3);
    assert.ok(summary.json().by_action['auth.fail'] >= 1);
  });

  it('records a web dashboard sign-in and sign-out (auth.web_login / auth.web_logout), dropping nothing', async () => {
    const origin = 'http://localhost:80';
    const login = await gw.app.inject({ method: 'POST', url: '/auth/session', headers: { host: 'localhost:80', origin, 'content-type': 'application/json' }, payload: JSON.stringify({ token: tok.admin }), remoteAddress: '192.0.2.88' });
    assert.equal(login.statusCode, 201, login.body);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const csrf = login.json<{ csrf_token: string }>().csrf_token;
    const out = await gw.app.inject({ method: 'POST', url: '/auth/session/logout', headers: { host: 'localhost:80', origin, cookie, 'x-csrf-token': csrf }, remoteAddress: '192.0.2.88' });
    assert.equal(out.statusCode, 200, out.body);
    await Promise.race([gw.app.loki.audit.idle(), new Promise((_, reject) => setTimeout(() => reject(new Error('audit events not delivered within 5 s')), 5000))]);

    const r = await gw.app.inject({ url: '/api/enterprise/audit?limit=50', headers: bearer(tok.auditor!) });
    const entries = r.json().entries as { action: string; ip: string; result: string }[];
    for (const action of ['auth.web_login', 'auth.web_logout']) {
      const e = entries.find((x) => x.action === action);
      assert.ok(e, `${action} is in the audit log: ${JSON.stringify(entries.map((x) => x.action))}`);
      assert.equal(e.ip, '192.0.2.88');
      assert.equal(e.result, 'success');
    }
    const metrics = (await gw.app.inject({ url: '/metrics', headers: bearer(tok.admin!) })).body;
    assert.match(metrics, /^loki_audit_events_dropped_total 0$/m);
  });
});

/** A temp dir, the gateway socket path in it (nothing listening yet) and a daemon client on it. */
function forwarderRig() {
  const t = tempDir();
  const socket = join(t.dir, 'gateway.sock');
  return { t, socket, log: createLogger({ name: 'fwd-test', level: 'silent' }), client: createDaemonClient({ socketPath: socket, timeoutMs: 1000 }) };
}

describe('AuditForwarder', () => {
  it('buffers while the daemon is down, holds events back beyond capacity instead of dropping them, and delivers all in order when it returns', async () => {
    const { t, socket, log, client } = forwarderRig();
    let forwarded = 0;
    let dropped = 0;
    const fwd = new AuditForwarder({ sender: client, capacity: 3, log, retryMs: 50, maxRetryMs: 100, onForwarded: () => forwarded++, onDropped: () => dropped++ });
    const rt = await createAuditRuntime({ config: auditConfigSchema.parse({}), home: t.dir, log });
    try {
      const accepted: number[] = [];
      for (let i = 0; i < 5; i++) {
        void fwd
          .forward({ action: 'access.denied', resource: `route:GET /r${i}`, result: 'denied', reason: 'unknown', identity: { requestId: `req-${i}`, clientIp: '192.0.2.1' } })
          .then(() => accepted.push(i));
      }
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(dropped, 0);
      assert.equal(fwd.buffered(), 3);
      assert.equal(fwd.waiting(), 2, 'the two events beyond capacity wait for a place (back-pressure)');
      assert.deepEqual(accepted, [0, 1, 2]);
      assert.equal(forwarded, 0);

      // Credential-less reads need a daemon that trusts this door as an auditor (auth.gateway_anonymous_role).
      const server = await listenUnix({ path: socket, mode: 0o600, identity: { role: 'gateway' }, modules: [createAuditModule({ runtime: rt })], log, trust: { anonymousRole: 'auditor' } });
      try {
        await fwd.idle();
        assert.equal(forwarded, 5);
        assert.equal(dropped, 0);
        assert.deepEqual(accepted, [0, 1, 2, 3, 4]);
        const q = await client.queryAudit({ limit: 10 }, { requestId: 'q', subject: 'token:auditor', scopes: ['audit'] });
        assert.deepEqual(q.entries.map((e) => e.resource).reverse(), ['route:GET /r0', 'route:GET /r1', 'route:GET /r2', 'route:GET /r3', 'route:GET /r4']);
        assert.ok(q.entries.every((e) => e.ip === '192.0.2.1' && e.result === 'denied'));
      } finally {
        await shutdownServer(server, 1000);
      }
    } finally {
      fwd.close();
      client.close();
      await rt.close();
      t.cleanup();
    }
  });

  it('holds the events lokid refuses as over audit.gateway_records_per_second and delivers every one, dropping none', async () => {
    const { t, socket, log, client } = forwarderRig();
    let forwarded = 0;
    let dropped = 0;
    let throttled = 0;
    let retryingWhileBusy = false;
    const fwd = new AuditForwarder({
      sender: client, capacity: 100, log, busyRetryMs: 50,
      onForwarded: () => forwarded++, onDropped: () => dropped++, // Looked at once the refused batch has been put back and its retry scheduled.
      onThrottled: () => { throttled++; setImmediate(() => (retryingWhileBusy ||= fwd.retrying())); },
    });
    // lokid takes 13 at once (the least burst), then 10 a second: 40 events sent at once are mostly refused at first.
    const rt = await createAuditRuntime({ config: auditConfigSchema.parse({ gateway_records_per_second: 10, gateway_records_burst: 13 }), home: t.dir, log });
    const server = await listenUnix({ path: socket, mode: 0o600, identity: { role: 'gateway' }, modules: [createAuditModule({ runtime: rt })], log, trust: { anonymousRole: 'auditor' } });
    try {
      for (let i = 0; i < 40; i++) await fwd.forward({ action: 'auth.fail', resource: `route:GET /b${i}`, result: 'denied', reason: 'unknown', identity: { requestId: `req-${i}`, clientIp: '192.0.2.2' } });
      await fwd.idle();
      assert.equal(dropped, 0);
      assert.equal(forwarded, 40);
      assert.ok(throttled >= 27, `lokid refused only ${throttled} sends`);
      assert.equal(retryingWhileBusy, false, 'a daemon asking to slow down is not an outage (shutdown still waits for the buffer)');
      const q = await client.queryAudit({ limit: 100, action: 'auth.fail' }, { requestId: 'q', subject: 'token:auditor', scopes: ['audit'] });
      assert.deepEqual(q.entries.map((e) => e.resource).sort(), Array.from({ length: 40 }, (_, i) => `route:GET /b${i}`).sort());
    } finally {
      fwd.close();
      client.close();
      await shutdownServer(server, 1000);
      await rt.close();
      t.cleanup();
    }
  });
});
