// Client input is never a 500: every numeric query/body/header field of every
// gateway route, sent as overflow, negative, fractional, non-numeric or
// non-finite, is a 400 whose message names the field. Table-driven: a new route
// with a numeric field adds a row (and uses routes/schemas.ts for its schema).
import assert from 'node:assert/strict';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { sessionRouteGroups } from '../../gateway/src/routes/control.js';
import { buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

interface Row {
  what: string;
  method: 'GET' | 'POST';
  /** Builds the request for one bad value. */
  url: (v: string) => string;
  body?: (v: string) => string;
  headers?: (v: string) => Record<string, string>;
  /** What the error message must name. */
  name: RegExp;
  /** Values to try instead of BAD (a field whose range includes -1). */
  bad?: string[];
}

const BAD = ['99999999999999999999', '9007199254740992', '-1', '1.5', 'abc', 'Infinity', '1e400', '0x1p3'];

const ROWS: Row[] = [
  { what: 'audit limit', method: 'GET', url: (v) => `/api/enterprise/audit?limit=${encodeURIComponent(v)}`, name: /limit/ },
  { what: 'audit cursor', method: 'GET', url: (v) => `/api/enterprise/audit?cursor=${encodeURIComponent(v)}`, name: /cursor/ },
  { what: 'events after', method: 'GET', url: (v) => `/api/events?after=${encodeURIComponent(v)}&follow=false`, name: /after/ },
  { what: 'session events after', method: 'GET', url: (v) => `/api/sessions/ses-000000000000/events?after=${encodeURIComponent(v)}&follow=false`, name: /after/ },
  { what: 'events Last-Event-ID', method: 'GET', url: () => '/api/events?follow=false', headers: (v) => ({ 'last-event-id': v }), name: /Last-Event-ID/ },
  { what: 'start max_iterations', method: 'POST', url: () => '/api/control/start', body: (v) => `{"provider":"script","prompt":"x","max_iterations":${/^[-\d.e]+$/.test(v) ? v : JSON.stringify(v)}}`, name: /max_iterations/ },
  { what: 'prune older_than_seconds', method: 'POST', url: () => '/api/sessions/prune', body: (v) => `{"dry_run":true,"older_than_seconds":${/^[-\d.e]+$/.test(v) ? v : JSON.stringify(v)}}`, name: /older_than_seconds/ },
  {
    what: 'token expires_days',
    method: 'POST',
    url: () => '/api/enterprise/tokens',
    body: (v) => `{"name":"n1","expires_days":${/^[-\d.e]+$/.test(v) ? v : JSON.stringify(v)}}`,
    name: /expires_days/,
    bad: BAD.map((v) => (v === '-1' ? '-2' : v)),
  },
];

describe('numeric fields of every gateway route', function () {
  this.timeout(60_000);
  let daemon: TestDaemon;
  let gw: TestGateway;
  let auth: Record<string, string>;
  let client: DaemonClient;

  before(async () => {
    daemon = await startTestDaemon();
    client = createDaemonClient({ socketPath: daemon.gatewaySocket, timeoutMs: 3000 });
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      // Limits out of the way: a 429 would hide what the route does with the input.
      raw: { rate_limit: { per_minute: 1_000_000, burst: 1_000_000, unauthenticated_per_minute: 1_000_000, lockout_failures: 1_000_000 } },
      deps: { daemon: client, routes: sessionRouteGroups(client) },
    });
    auth = { authorization: `Bearer ${(await generateToken(daemon.adminSocket, { name: 'num-admin', role: 'admin' })).secret}` };
  });

  after(async () => {
    await gw?.close();
    client?.close();
    await daemon?.close();
  });

  for (const row of ROWS) {
    it(`answers 400 naming the field for a bad ${row.what}`, async () => {
      for (const v of row.bad ?? BAD) {
        const r = await gw.app.inject({
          method: row.method,
          url: row.url(v),
          headers: { ...auth, ...(row.body ? { 'content-type': 'application/json' } : {}), ...(row.headers?.(v) ?? {}) },
          ...(row.body ? { payload: row.body(v) } : {}),
        });
        assert.equal(r.statusCode, 400, `${row.what}=${v}: ${r.statusCode} ${r.body}`);
        const e = r.json().error;
        assert.equal(e.code, 'invalid_argument', `${row.what}=${v}`);
        assert.match(e.message, row.name, `${row.what}=${v}: ${e.message}`);
      }
    });
  }

  it('still accepts the largest valid cursor', async () => {
    const r = await gw.app.inject({ url: `/api/enterprise/audit?cursor=${Number.MAX_SAFE_INTEGER}`, headers: auth });
    assert.equal(r.statusCode, 200, r.body);
  });
});
