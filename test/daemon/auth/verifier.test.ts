import assert from 'node:assert/strict';
import { LokiError } from '../../../common/src/index.js';
import { createCredentialVerifier } from '../../../daemon/src/auth/verifier.js';
import { DAY, makeFixture, type Fixture } from '../tokens/helpers.js';

async function refused(p: Promise<unknown>, why: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof LokiError);
    assert.equal(err.kind, 'unauthenticated');
    assert.match(err.message, why);
    return true;
  });
}

describe('CredentialVerifier', () => {
  let f: Fixture;
  let lookups: number;
  const counted = () => ({
    verify: (s: string) => {
      lookups++;
      return f.store.verify(s);
    },
    get revision() {
      return f.store.revision;
    },
  });
  beforeEach(() => {
    f = makeFixture();
    lookups = 0;
  });
  afterEach(() => f.cleanup());

  it('answers a token verified a moment ago without another store lookup', async () => {
    const { secret } = await f.store.generate({ name: 'ci', role: 'viewer', owner: 'local:1' });
    const v = createCredentialVerifier({ tokens: counted(), now: () => f.clock.now });
    const a = await v.verify(secret);
    const b = await v.verify(secret);
    assert.equal(a.subject, 'token:ci');
    assert.deepEqual(b, a);
    assert.equal(lookups, 1);
  });

  it('rejects a revoked token at once, even inside its cache window', async () => {
    const { secret } = await f.store.generate({ name: 'ci', role: 'viewer', owner: 'local:1' });
    const v = createCredentialVerifier({ tokens: counted(), now: () => f.clock.now, cacheMs: 60_000 });
    await v.verify(secret);
    await f.store.revoke('ci');
    await refused(v.verify(secret), /revoked/);
  });

  it('never serves from its cache a lookup that a revocation overtook', async () => {
    const { secret } = await f.store.generate({ name: 'ci', role: 'viewer', owner: 'local:1' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The row is read while the token is live; the answer arrives after the revocation.
    const slow = {
      verify: async (s: string) => {
        const r = await f.store.verify(s);
        await gate;
        return r;
      },
      get revision() {
        return f.store.revision;
      },
    };
    const v = createCredentialVerifier({ tokens: slow, now: () => f.clock.now, cacheMs: 60_000 });
    const other = (await f.store.generate({ name: 'other', role: 'viewer', owner: 'local:1' })).secret;
    const inFlight = v.verify(secret);
    await new Promise((resolve) => setImmediate(resolve));
    await f.store.revoke('ci');
    // Another call sees the new revision (and empties the cache) before the first one returns.
    const meanwhile = v.verify(other);
    release();
    assert.equal((await inFlight).subject, 'token:ci', 'the call that started before the revocation may finish');
    await meanwhile;
    await refused(v.verify(secret), /revoked/);
  });

  it('rejects a token that expires inside its cache window', async () => {
    const { secret } = await f.store.generate({ name: 'ci', role: 'viewer', owner: 'local:1', expiresDays: 1 });
    const v = createCredentialVerifier({ tokens: counted(), now: () => f.clock.now, cacheMs: 10 * DAY });
    await v.verify(secret);
    f.clock.now += DAY + 1;
    await refused(v.verify(secret), /expired/);
  });

  it('looks the token up again once the cache window has passed', async () => {
    const { secret } = await f.store.generate({ name: 'ci', role: 'viewer', owner: 'local:1' });
    const v = createCredentialVerifier({ tokens: counted(), now: () => f.clock.now, cacheMs: 2000 });
    await v.verify(secret);
    f.clock.now += 2001;
    await v.verify(secret);
    assert.equal(lookups, 2);
  });

  it('never caches a refusal, and looks up every call with cacheMs 0', async () => {
    const v = createCredentialVerifier({ tokens: counted(), now: () => f.clock.now });
    const bogus = 'loki_' + 'A'.repeat(49);
    await refused(v.verify(bogus), /not valid/);
    await refused(v.verify(bogus), /not valid/);
    assert.equal(lookups, 2);
    const { secret } = await f.store.generate({ name: 'ci', role: 'viewer', owner: 'local:1' });
    const uncached = createCredentialVerifier({ tokens: counted(), now: () => f.clock.now, cacheMs: 0 });
    await uncached.verify(secret);
    await uncached.verify(secret);
    assert.equal(lookups, 4);
  });
});
