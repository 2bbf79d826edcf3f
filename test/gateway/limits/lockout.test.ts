// A locked-out address costs the daemon nothing: the lockout is checked before
// any token verification, so a flood of guesses from it never reaches the
// daemon, and a correct guess is refused like a wrong one. Real daemon, real tokens.
import assert from 'node:assert/strict';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from '../helpers.js';

/** TokenService/Verify round trips the gateway has made so far (its own client-side histogram). */
async function verifyCalls(gw: TestGateway): Promise<number> {
  const h = await gw.app.loki.metrics.grpcDuration.get();
  return h.values
    .filter((v) => v.metricName === 'loki_grpc_client_duration_seconds_count' && v.labels.method === 'TokenService/Verify')
    .reduce((n, v) => n + v.value, 0);
}

describe('Auth-failure lockout', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let gw: TestGateway;

  before(async () => {
    d = await startTestDaemon();
    gw = await buildTestGateway({ socket: d.gatewaySocket });
  });

  after(async () => {
    await gw?.close();
    await d?.close();
  });

  it('refuses a locked-out address before any daemon call, even for a valid token it has not shown before', async () => {
    const from = { remoteAddress: '192.0.2.20' };
    const known = (await generateToken(d.adminSocket, { name: 'known', role: 'viewer' })).secret;
    const unseen = (await generateToken(d.adminSocket, { name: 'unseen', role: 'viewer' })).secret;
    assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(known), ...from })).statusCode, 200);
    for (let i = 0; i < 5; i++) {
      const guess = 'loki_' + String(i).repeat(43);
      assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(guess), ...from })).statusCode, 401);
    }
    const before = await verifyCalls(gw);
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) {
      const guess = 'loki_' + String.fromCharCode(97 + i).repeat(43);
      codes.push((await gw.app.inject({ url: '/api/status', headers: bearer(guess), ...from })).statusCode);
    }
    const correctGuess = await gw.app.inject({ url: '/api/status', headers: bearer(unseen), ...from });
    assert.deepEqual(new Set(codes), new Set([429]));
    assert.equal(correctGuess.statusCode, 429, 'a correct guess from a locked-out address is refused like a wrong one');
    assert.equal(await verifyCalls(gw), before, 'no token was sent to the daemon while the address was locked out');
    // The user whose token the gateway already verified keeps working from that address…
    assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(known), ...from })).statusCode, 200);
    // …and the unseen token works from anywhere else.
    assert.equal((await gw.app.inject({ url: '/api/status', headers: bearer(unseen), remoteAddress: '192.0.2.21' })).statusCode, 200);
  });
});
