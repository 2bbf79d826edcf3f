// Stream tickets: the only credential a URL may carry. Single use, ≤ 60 s,
// bound to the subject that asked and to one path; accepted only on streams.
import assert from 'node:assert/strict';
import { StreamTicketStore } from '../../gateway/src/plugins/stream-tickets.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

describe('stream tickets', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let viewer: string;
  before(async () => {
    daemon = await startTestDaemon();
    viewer = (await generateToken(daemon.adminSocket, { name: 'viewer', role: 'viewer' })).secret;
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 10_000, burst: 10_000, unauthenticated_per_minute: 10_000 } } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  async function ticketFor(path: string, secret = viewer): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await gw.app.inject({ method: 'POST', url: '/api/auth/stream-ticket', headers: bearer(secret), payload: { path } });
    return { status: r.statusCode, body: r.json() };
  }

  it('issues a ticket that opens the stream exactly once', async () => {
    const t = await ticketFor('/api/events');
    assert.equal(t.status, 201);
    assert.match(String(t.body.ticket), /^lst_[A-Za-z0-9_-]{43}$/);
    assert.ok(Number(t.body.expires_in_seconds) <= 60 && Number(t.body.expires_in_seconds) > 0);
    const first = await gw.app.inject({ url: `/api/events?follow=false&ticket=${String(t.body.ticket)}` });
    assert.equal(first.statusCode, 200, first.body);
    assert.match(String(first.headers['content-type']), /text\/event-stream/);
    assert.equal(first.headers['x-accel-buffering'], 'no');
    const again = await gw.app.inject({ url: `/api/events?follow=false&ticket=${String(t.body.ticket)}` });
    assert.equal(again.statusCode, 401);
    assert.match(again.json().error.message, /unknown or already used/);
  });

  it('refuses a ticket on a path other than the one it was issued for', async () => {
    const t = await ticketFor('/api/events');
    const r = await gw.app.inject({ url: `/api/sessions/ses-000000000000/events?follow=false&ticket=${String(t.body.ticket)}` });
    assert.equal(r.statusCode, 401);
    assert.match(r.json().error.message, /another path/);
  });

  it('refuses a ticket on a route that is not a stream', async () => {
    const t = await ticketFor('/api/events');
    const r = await gw.app.inject({ url: `/api/sessions?ticket=${String(t.body.ticket)}` });
    assert.equal(r.statusCode, 401);
    assert.match(r.json().error.message, /only on SSE and WebSocket routes/);
  });

  // A ticket seen in a URL (a proxy log, a shoulder) is only worth anything until it is tried:
  // every refused use spends it, wherever it was tried, so it cannot be tried again at the right place.
  it('spends a ticket on every refused use: another route, a public or unknown path, with a header, twice, next to a token', async () => {
    const misuses: Array<(t: string) => { url: string; headers?: Record<string, string> }> = [
      (t) => ({ url: `/api/sessions?ticket=${t}` }),
      (t) => ({ url: `/health?ticket=${t}` }),
      (t) => ({ url: `/api/no-such-route?ticket=${t}` }),
      (t) => ({ url: `/api/events/?follow=false&ticket=${t}` }),
      (t) => ({ url: `/api/events?follow=false&ticket=${t}`, headers: bearer(viewer) }),
      (t) => ({ url: `/api/events?follow=false&ticket=${t}&ticket=${t}` }),
      (t) => ({ url: `/api/events?follow=false&ticket=${t}&token=loki_x` }),
    ];
    for (const [i, misuse] of misuses.entries()) {
      const t = String((await ticketFor('/api/events')).body.ticket);
      const m = misuse(t);
      // Each from its own address: the refusals count towards the auth-failure lockout.
      const remoteAddress = `192.0.2.${10 + i}`;
      const refused = await gw.app.inject({ url: m.url, remoteAddress, ...(m.headers ? { headers: m.headers } : {}) });
      assert.notEqual(refused.statusCode, 200, m.url);
      const later = await gw.app.inject({ url: `/api/events?follow=false&ticket=${t}`, remoteAddress });
      assert.equal(later.statusCode, 401, `still usable after ${m.url}${m.headers ? ' with a header' : ''}`);
      assert.match(later.json().error.message, /unknown or already used/);
    }
  });

  it('never accepts a long-lived token in the URL, not even a valid one on a stream route', async () => {
    for (const name of ['access_token', 'token']) {
      const r = await gw.app.inject({ url: `/api/events?follow=false&${name}=${viewer}` });
      assert.equal(r.statusCode, 401, name);
      assert.match(r.json().error.message, /never accepted in a URL/);
    }
    // A token passed off as a ticket is not a ticket either.
    const r = await gw.app.inject({ url: `/api/events?follow=false&ticket=${viewer}` });
    assert.equal(r.statusCode, 401);
  });

  it('issues tickets only for stream routes and only to callers with credentials', async () => {
    assert.equal((await ticketFor('/api/sessions')).status, 400);
    assert.equal((await ticketFor('/api/events?x=1')).status, 400);
    const anon = await gw.app.inject({ method: 'POST', url: '/api/auth/stream-ticket', payload: { path: '/api/events' } });
    assert.equal(anon.statusCode, 401);
  });

  it('expires after its lifetime, which is never more than 60 s', () => {
    let now = 1_000_000;
    const store = new StreamTicketStore({ ttlMs: 10 * 60_000, now: () => now });
    const t = store.issue({ subject: 'token:a', scopes: ['read'], method: 'token' }, '/api/events');
    assert.equal(t.expiresAt - now, 60_000, 'ttl is capped at 60 s');
    now += 60_000;
    const r = store.redeem(t.ticket, '/api/events');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.message, /expired/);
    assert.equal(store.size, 0);
  });

  it('binds the ticket to the subject that asked for it', () => {
    const store = new StreamTicketStore();
    const t = store.issue({ subject: 'oidc:alice', scopes: ['read'], method: 'oidc', viaCookie: true }, '/api/events');
    const r = store.redeem(t.ticket, '/api/events');
    assert.ok(r.ok);
    assert.equal(r.identity.subject, 'oidc:alice');
    assert.equal(r.identity.viaCookie, undefined, 'a ticket is not a cookie session');
  });

  it('keeps at most 64 live tickets per subject', () => {
    const store = new StreamTicketStore();
    const id = { subject: 'token:greedy', scopes: ['read'], method: 'token' as const };
    const first = store.issue(id, '/api/events');
    for (let i = 0; i < 70; i++) store.issue(id, '/api/events');
    assert.equal(store.size, 64);
    assert.equal(store.redeem(first.ticket, '/api/events').ok, false, 'the oldest was dropped');
  });
});
