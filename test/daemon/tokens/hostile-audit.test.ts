import assert from 'node:assert/strict';
import { TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import { queryAuditLog } from '../../../daemon/src/audit/index.js';
import { clientFor, errorCode, startTestDaemon, unaryCall } from '../../helpers/daemon.js';

describe('TokenService with hostile names and the real audit log', function () {
  this.timeout(30_000);

  it('answers the real (invalid_argument) error for a name with control characters or 3000 characters, and still audits the attempt', async () => {
    const d = await startTestDaemon();
    const c = clientFor(TokenServiceClient, d.paths.adminSocket);
    try {
      for (const name of ['a\x01b', 'x'.repeat(3000)]) {
        await assert.rejects(unaryCall(c.revoke.bind(c), { nameOrId: name }), (e: unknown) => {
          assert.equal(errorCode(e), 'invalid_argument', (e as Error).message);
          assert.match((e as Error).message, /not a token name or id/);
          assert.doesNotMatch((e as Error).message, /audit event/);
          return true;
        });
      }
      const page = await queryAuditLog(d.audit.dir, { limit: 10, action: 'token.revoke' });
      const resources = page.entries.map((e) => e.resource);
      assert.ok(resources.includes('token:a\\x01b'), JSON.stringify(resources));
      assert.ok(resources.some((r) => r.startsWith('token:xxx') && r.length <= 256), 'the long name is bounded');
      assert.ok(page.entries.every((e) => e.result === 'error'));
    } finally {
      c.close();
      await d.cleanup();
    }
  });
});
