// SIGKILL lokid while `token generate` waits for its audit entry (the fixture never
// writes it): after the restart there is no token the audit log does not mention (its
// secret never reached anyone), the name is free again, and a token generated and
// acknowledged before the kill still verifies, a revoked one stays revoked.
import assert from 'node:assert/strict';
import { runtimePaths } from '../../../common/src/index.js';
import { TokenServiceClient, type GenerateTokenRequest, type GenerateTokenResponse, type ListTokensRequest, type ListTokensResponse, type RevokeTokenRequest, type RevokeTokenResponse, type VerifyTokenRequest, type VerifyTokenResponse } from '../../../proto/gen/loki/v1/tokens.js';
import { auditEntries, clientFor, removeHome, unaryCall } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';
import { spawnFixture, until } from '../sessions/helpers.js';

describe('tokens across a daemon SIGKILL', function () {
  this.timeout(120_000);
  let home: string;
  let child: Awaited<ReturnType<typeof spawnFixture>> | undefined;

  beforeEach(function () {
    home = shortTempDir('lkt');
  });

  afterEach(function () {
    child?.kill('SIGKILL');
    removeHome(home);
  });

  it('leaves no token whose generation was never audited, and keeps every acknowledged one', async function () {
    child = await spawnFixture(home, { LOKI_TEST_HANG_AUDIT: 'token.generate' });
    const admin = runtimePaths(home).adminSocket;
    let tokens = clientFor(TokenServiceClient, admin);
    const generate = (name: string) => unaryCall<GenerateTokenRequest, GenerateTokenResponse>(tokens.generate.bind(tokens), { name, scopes: ['read'], role: '', expiresDays: 0 });
    const list = () => unaryCall<ListTokensRequest, ListTokensResponse>(tokens.list.bind(tokens), { all: true }).then((r) => r.tokens);
    const verify = (secret: string) => unaryCall<VerifyTokenRequest, VerifyTokenResponse>(tokens.verify.bind(tokens), { secret });

    generate('ci').catch(() => undefined); // cut off by the kill
    await until('the generate to reach its audit entry', () => child!.output().includes('hang:audit:token.generate'));
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    tokens.close();

    child = await spawnFixture(home);
    tokens = clientFor(TokenServiceClient, admin);
    try {
      assert.deepEqual((await list()).filter((t) => t.name === 'ci').map((t) => `${t.id} revoked:${t.revokedAtMs > 0}`), [], 'no token the audit log never mentions');
      const ci = await generate('ci');
      assert.equal((await verify(ci.secret)).valid, true, 'the name is free again and the new token works');
      const old = await generate('old');
      await unaryCall<RevokeTokenRequest, RevokeTokenResponse>(tokens.revoke.bind(tokens), { nameOrId: 'old' });

      // Acknowledged before a kill: still there after it.
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      tokens.close();
      child = await spawnFixture(home);
      tokens = clientFor(TokenServiceClient, admin);
      assert.equal((await verify(ci.secret)).valid, true, 'a generated token still verifies');
      assert.equal((await verify(old.secret)).reason, 'revoked', 'a revoked token stays revoked');
      // (The first start's local-admin token has its own entry, details.bootstrap.)
      const generated = auditEntries(home).filter((e) => e.action === 'token.generate' && e.result === 'success' && !e.details.bootstrap).map((e) => e.resource);
      assert.deepEqual(generated, [`token:${ci.token!.id}`, `token:${old.token!.id}`]);
    } finally {
      tokens.close();
    }
  });
});
