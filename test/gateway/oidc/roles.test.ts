import { strict as assert } from 'node:assert';
import { identityFromClaims, mapRoles } from '../../../gateway/src/auth/oidc/index.js';

const cfg = {
  role_claims: ['roles', 'groups', 'realm_access.roles', 'hd'],
  role_map: { 'loki-admins': 'admin', 'loki-auditors': 'auditor', 'example.com': 'viewer' } as Record<string, 'admin' | 'operator' | 'viewer' | 'auditor'>,
  default_role: 'none' as const,
};

describe('OIDC role mapping', function () {
  it('reads lists, space- or comma-separated strings and nested claims', function () {
    assert.deepEqual(mapRoles({ groups: 'staff loki-auditors' }, cfg), ['auditor']);
    assert.deepEqual(mapRoles({ roles: 'x,loki-admins' }, cfg), ['admin']);
    assert.deepEqual(mapRoles({ realm_access: { roles: ['loki-auditors', 'loki-admins'] } }, cfg), ['admin', 'auditor']);
    assert.deepEqual(mapRoles({ hd: 'example.com' }, cfg), ['viewer']);
  });

  it('grants nothing for a value that merely looks like a role name', function () {
    assert.deepEqual(mapRoles({ groups: ['admin', 'operator'], roles: ['*'] }, cfg), []);
    assert.throws(() => identityFromClaims({ sub: 'eve', groups: ['admin'] }, cfg), (e: Error & { code?: string }) => e.code === 'permission_denied');
  });

  it('refuses subjects that are empty, too long, or contain separators or control characters', function () {
    // 252: `oidc:` + sub would not fit the audit log's 256-character user field.
    for (const sub of ['', 'a,b', 'line\nbreak', 'x'.repeat(256), 'x'.repeat(252), undefined]) {
      assert.throws(() => identityFromClaims({ sub, hd: 'example.com' }, cfg), /usable subject/, JSON.stringify(sub));
    }
    assert.equal(identityFromClaims({ sub: '00u1abc', hd: 'example.com' }, cfg).subject, 'oidc:00u1abc');
    assert.equal(identityFromClaims({ sub: 'x'.repeat(251), hd: 'example.com' }, cfg).subject.length, 256);
  });
});

describe('OIDC session revocations', function () {
  it('refuses a revoked session id until its cookie would have expired, then forgets it', async function () {
    const { SessionRevocations } = await import('../../../gateway/src/auth/oidc/runtime.js');
    const r = new SessionRevocations(3);
    r.revoke('a', 2_000, 1_000);
    assert.equal(r.isRevoked('a', 1_999), true);
    assert.equal(r.isRevoked('b', 1_999), false);
    assert.equal(r.isRevoked('a', 2_000), false, 'past its expiry the cookie is refused anyway');
    assert.equal(r.size, 0);
  });

  it('stays within its cap: expired entries go first, then the oldest', async function () {
    const { SessionRevocations } = await import('../../../gateway/src/auth/oidc/runtime.js');
    const r = new SessionRevocations(3);
    r.revoke('old', 1_500, 1_000);
    r.revoke('b', 9_000, 1_000);
    r.revoke('c', 9_000, 1_000);
    r.revoke('d', 9_000, 2_000); // full: 'old' has expired and is pruned
    assert.equal(r.size, 3);
    assert.deepEqual(['b', 'c', 'd'].map((s) => r.isRevoked(s, 2_000)), [true, true, true]);
    r.revoke('e', 9_000, 2_000); // full of live entries: the oldest ('b') goes
    assert.equal(r.size, 3);
    assert.deepEqual(['b', 'c', 'd', 'e'].map((s) => r.isRevoked(s, 2_000)), [false, true, true, true]);
  });
});
