// Regression: "1e400" in a query (or 1e400 in a JSON body) became Infinity,
// passed Ajv's integer/minimum/maximum checks, and reached the daemon as a 500.
import assert from 'node:assert/strict';
import { needsFiniteCheck } from '../../gateway/src/plugins/finite-numbers.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

describe('numeric input', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let admin: string;
  before(async () => {
    daemon = await startTestDaemon();
    admin = (await generateToken(daemon.adminSocket, { name: 'admin', role: 'admin' })).secret;
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('answers 400 naming the field for an overflowing number in the query', async () => {
    for (const url of ['/api/enterprise/audit?limit=1e400', '/api/enterprise/audit?cursor=1e400', '/api/sessions/ses-000000000000/trail?limit=1e400', '/api/sandboxes/x/logs?tail=-1e400']) {
      const r = await gw.app.inject({ url, headers: bearer(admin) });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(r.json().error.message, /querystring\/(limit|cursor|tail)/);
    }
  });

  it('answers 400 naming the field for an overflowing number in a JSON body', async () => {
    const r = await gw.app.inject({ method: 'POST', url: '/api/sandboxes', headers: { ...bearer(admin), 'content-type': 'application/json' }, payload: '{"cpus": 1e400}' });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().error.message, /body\/cpus/);
    const stop = await gw.app.inject({ method: 'POST', url: '/api/sandboxes/x/stop', headers: { ...bearer(admin), 'content-type': 'application/json' }, payload: '{"timeout_seconds": 1e400}' });
    assert.equal(stop.statusCode, 400, stop.body);
  });

  it('keeps the ordinary bounds: negative, fractional and non-numeric values are 400 too', async () => {
    for (const v of ['-1', '1.5', 'abc', '99999999999999999999']) {
      const r = await gw.app.inject({ url: `/api/enterprise/audit?limit=${v}`, headers: bearer(admin) });
      assert.equal(r.statusCode, 400, `limit=${v}`);
      assert.match(r.json().error.message, /limit/);
    }
  });

  it('checks every route that takes a body or a numeric param or query, and only those', () => {
    assert.equal(needsFiniteCheck({ method: 'POST', schema: {} }), true);
    assert.equal(needsFiniteCheck({ method: ['GET', 'PUT'], schema: {} }), true);
    assert.equal(needsFiniteCheck({ method: 'GET', schema: { querystring: { type: 'object', properties: { limit: { type: 'integer' } } } } }), true);
    assert.equal(needsFiniteCheck({ method: 'GET', schema: { params: { type: 'object', properties: { n: { anyOf: [{ type: 'number' }, { type: 'string' }] } } } } }), true);
    assert.equal(needsFiniteCheck({ method: 'GET', schema: { querystring: { type: 'object', properties: { all: { type: 'boolean' } } } } }), false);
    assert.equal(needsFiniteCheck({ method: 'HEAD', schema: {} }), false);
  });
});
