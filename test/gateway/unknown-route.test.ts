// Regression: an unknown route with a VALID token answered
// 429 "rate limit exceeded for unauthenticated requests" after ~10 requests and
// was audited as anonymous. It must be 404, counted to the token's subject.
import assert from 'node:assert/strict';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

describe('unknown routes', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let secret: string;
  before(async () => {
    daemon = await startTestDaemon();
    secret = (await generateToken(daemon.adminSocket, { name: 'op', role: 'operator' })).secret;
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { rate_limit: { per_minute: 30, burst: 1000, unauthenticated_per_minute: 5 } },
    });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('answers 404 to a valid token, counted against its own per-minute budget, not the anonymous one', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await gw.app.inject({ url: `/api/no-such-thing/${i}`, headers: bearer(secret) });
      assert.equal(r.statusCode, 404, `request ${i + 1}: ${r.body}`);
      assert.equal(r.json().error.code, 'not_found');
      assert.equal(r.headers['ratelimit-limit'], '30', 'the subject budget applies');
      assert.equal(r.headers['ratelimit-remaining'], String(30 - i - 1));
    }
  });

  it('rate-limits a valid token on unknown routes as that subject once its budget is spent', async () => {
    let last = 0;
    let message = '';
    for (let i = 0; i < 15; i++) {
      const r = await gw.app.inject({ url: '/api/nope', headers: bearer(secret) });
      last = r.statusCode;
      if (r.statusCode === 429) message = r.json().error.message;
    }
    assert.equal(last, 429);
    assert.match(message, /rate limit exceeded \(30 requests per minute\)/);
    assert.doesNotMatch(message, /unauthenticated/);
  });

  it('still limits anonymous probing of unknown paths per address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await gw.app.inject({ url: '/wp-login.php' })).statusCode);
    assert.deepEqual(codes.slice(0, 5), [404, 404, 404, 404, 404]);
    assert.equal(codes.at(-1), 429);
  });
});
