// lokid bounds the unary calls one user may have in progress through the gateway
// (auth.gateway_max_calls_per_subject). When it refuses one, the gateway must
// answer 429 with a body that names the limit and the setting, never a 500.
import assert from 'node:assert/strict';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

describe('a call lokid refuses for auth.gateway_max_calls_per_subject, through the gateway', function () {
  this.timeout(60_000);
  let daemon: TestDaemon;
  let gw: TestGateway;

  before(async () => {
    daemon = await startTestDaemon({ auth: { gateway_max_calls_per_subject: 2 } });
    // The gateway's own limits are out of the way: only lokid's bound is tested.
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 1_000_000, burst: 1_000_000, concurrency: 1000 } } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('answers 429 resource_exhausted naming the setting, and serves the calls within the bound', async () => {
    const { secret } = await generateToken(daemon.adminSocket, { name: 'auditor', role: 'auditor' });
    const res = await Promise.all(Array.from({ length: 20 }, () => gw.app.inject({ url: '/api/enterprise/audit/summary', headers: bearer(secret) })));
    const statuses = res.map((r) => r.statusCode);
    assert.ok(statuses.every((s) => s === 200 || s === 429), `unexpected statuses ${statuses.join(',')}`);
    assert.ok(statuses.includes(200), 'no call was served');
    const refused = res.filter((r) => r.statusCode === 429);
    assert.ok(refused.length > 0, 'no call was refused');
    for (const r of refused) {
      const body = r.json() as { error: { code: string; message: string; request_id: string } };
      assert.equal(body.error.code, 'resource_exhausted');
      assert.match(body.error.message, /token:auditor already has 2 calls in progress on the gateway's door \(auth\.gateway_max_calls_per_subject = 2\); retry when one has answered/);
      assert.ok(body.error.request_id);
    }
  });
});
