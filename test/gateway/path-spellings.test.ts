// A low-scope caller (a viewer token, or none) spelling a guarded route another
// way — case, trailing or doubled slashes, dot segments, encoded slashes, a NUL,
// a `;` parameter, a detour through a public path — gets the route's own
// refusal or a 404, never its answer. Sent raw over a real socket (no client
// normalises the path first), for GET, HEAD and OPTIONS.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

function raw(port: number, method: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end();
  });
}

const SPELLINGS = [
  '/API/enterprise/tokens',
  '/api/enterprise/tokens/',
  '//api/enterprise/tokens',
  '/api/./enterprise/tokens',
  '/api/x/../enterprise/tokens',
  '/api%2fenterprise%2ftokens',
  '/api/enterprise/tokens;x',
  '/api/enterprise/tokens%00',
  '/api/enterprise/tokens%3F',
  '/health/../api/enterprise/tokens',
  '/assets/../api/enterprise/tokens',
  '/assets/..%2fapi%2fenterprise%2ftokens',
  '/auth/oidc/login/../../api/enterprise/tokens',
];

describe('path spellings of a guarded route', function () {
  this.timeout(60_000);
  let daemon: TestDaemon;
  let gw: TestGateway;
  let port: number;
  let viewer: string;

  before(async () => {
    daemon = await startTestDaemon();
    viewer = (await generateToken(daemon.adminSocket, { name: 'viewer', role: 'viewer' })).secret;
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 10_000, burst: 10_000, unauthenticated_per_minute: 10_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  it('the plain spelling is refused as the route says: 403 for a viewer, 401 without a credential', async () => {
    assert.equal(await raw(port, 'GET', '/api/enterprise/tokens', bearer(viewer)), 403);
    assert.equal(await raw(port, 'GET', '/api/enterprise/tokens', {}), 401);
    // A percent-encoded letter is the same route, and just as guarded.
    assert.equal(await raw(port, 'GET', '/api/enterprise/%74okens', bearer(viewer)), 403);
    assert.equal(await raw(port, 'GET', '/api/enterprise/%74okens', {}), 401);
  });

  it('no other spelling answers the route (GET, HEAD, OPTIONS; with a viewer token or none)', async () => {
    const answered: string[] = [];
    for (const path of SPELLINGS) {
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        for (const [who, headers] of [['viewer', bearer(viewer)], ['nobody', {}]] as const) {
          const code = await raw(port, method, path, headers);
          if (![400, 401, 403, 404].includes(code)) answered.push(`${method} ${path} as ${who}: ${code}`);
        }
      }
    }
    assert.deepEqual(answered, []);
  });
});
