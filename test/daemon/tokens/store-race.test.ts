// Concurrent creates: the name check and the per-owner limit hold when several
// `generate` calls are in flight at once, because the repository runs the check
// inside the transaction that inserts. The SQLite repository answers at once, so
// the same races are also run through a repository that answers a turn of the
// event loop later (as a networked store would): every call has then passed
// validation and is waiting before the first insert lands, which is exactly where
// a check made in TokenStore (outside the transaction) would let several through.
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { LokiError } from '../../../common/src/index.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { TOKENS_CONFIG_DEFAULTS } from '../../../daemon/src/tokens/config.js';
import { TokenStore, type TokenRecord, type TokenRepo } from '../../../daemon/src/tokens/store.js';
import { makeFixture, type Fixture } from './helpers.js';

const hop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The real repository behind a round trip each way. */
class LatentRepo implements TokenRepo {
  constructor(private readonly inner: TokenRepo) {}
  private async wire<T>(call: () => Promise<T>): Promise<T> {
    await hop();
    try {
      return await call();
    } finally {
      await hop();
    }
  }
  byHash(hash: Buffer) {
    return this.wire(() => this.inner.byHash(hash));
  }
  byId(id: string) {
    return this.wire(() => this.inner.byId(id));
  }
  byName(name: string) {
    return this.wire(() => this.inner.byName(name));
  }
  insertChecked(t: TokenRecord, hash: Buffer, now: number, check: (held: TokenRecord | undefined, n: number) => void) {
    return this.wire(() => this.inner.insertChecked(t, hash, now, check));
  }
  revoke(id: string, at: number) {
    return this.wire(() => this.inner.revoke(id, at));
  }
  touch(batch: readonly (readonly [string, number])[]) {
    return this.wire(() => this.inner.touch(batch));
  }
  all() {
    return this.wire(() => this.inner.all());
  }
  hasActiveAdmin(now: number) {
    return this.wire(() => this.inner.hasActiveAdmin(now));
  }
}

/** Splits settled results into winners and the LokiError codes and messages of the losers. */
function outcome(results: PromiseSettledResult<{ token: TokenRecord }>[]): { won: TokenRecord[]; lost: { code: string; message: string }[] } {
  const won: TokenRecord[] = [];
  const lost: { code: string; message: string }[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') won.push(r.value.token);
    else {
      assert.ok(r.reason instanceof LokiError, `expected a LokiError, got ${String(r.reason)}`);
      lost.push({ code: r.reason.code, message: r.reason.message });
    }
  }
  return { won, lost };
}

describe('TokenStore under concurrent creates', () => {
  let f: Fixture;
  const extra: { store: TokenStore; sq: SqliteStore }[] = [];
  /**
   * Another TokenStore, a round trip away from its repository, on its own
   * connection to the same database file (as a second daemon process would have).
   */
  const latentStore = (max = TOKENS_CONFIG_DEFAULTS.max_active_per_user) => {
    const sq = openSqliteStore(f.dbPath);
    const store = new TokenStore({
      repo: new LatentRepo(sq.tokens),
      config: { ...TOKENS_CONFIG_DEFAULTS, max_active_per_user: max },
      log: pino({ level: 'silent' }),
      now: () => f.clock.now,
    });
    extra.push({ store, sq });
    return store;
  };
  const activeOf = (owner: string) =>
    (f.db.prepare('SELECT COUNT(*) AS n FROM tokens WHERE owner = ? AND revoked_at IS NULL').get(owner) as { n: number }).n;

  beforeEach(() => {
    f = makeFixture({ max_active_per_user: 3 });
  });
  afterEach(async () => {
    for (const e of extra.splice(0)) {
      await e.store.close();
      e.sq.close();
    }
    await f.cleanup();
  });

  for (const latent of [false, true]) {
    const how = latent ? 'through a repository a round trip away' : 'on the SQLite repository';
    it(`lets exactly one of eight creates of the same name win, ${how}`, async () => {
      const store = latent ? latentStore() : f.store;
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.generate({ name: 'deploy-bot', owner: `user-${i}` })));
      const { won, lost } = outcome(results);
      assert.equal(won.length, 1);
      assert.equal(lost.length, 7);
      for (const l of lost) assert.deepEqual(l, { code: 'token_name_in_use', message: 'a token named "deploy-bot" already exists' });
      assert.deepEqual((await f.store.list()).map((t) => t.id), [won[0]!.id]);
    });

    it(`lets an owner one below the limit win exactly one of six concurrent creates, ${how}`, async () => {
      const store = latent ? latentStore(3) : f.store;
      await f.store.generate({ name: 'first', owner: 'alice' });
      await f.store.generate({ name: 'second', owner: 'alice' });
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.generate({ name: `burst-${i}`, owner: 'alice' })));
      const { won, lost } = outcome(results);
      assert.equal(won.length, 1);
      assert.equal(lost.length, 5);
      for (const l of lost) {
        assert.deepEqual(l, {
          code: 'token_limit_reached',
          message: 'alice already has 3 active tokens (tokens.max_active_per_user = 3); revoke one first',
        });
      }
      assert.equal(activeOf('alice'), 3);
    });
  }

  it('lets exactly the limit win from an owner with no tokens, through a repository a round trip away', async () => {
    const store = latentStore(3);
    const results = await Promise.allSettled(Array.from({ length: 7 }, (_, i) => store.generate({ name: `fresh-${i}`, owner: 'bob' })));
    const { won, lost } = outcome(results);
    assert.equal(won.length, 3);
    assert.deepEqual(new Set(lost.map((l) => l.code)), new Set(['token_limit_reached']));
    assert.equal(activeOf('bob'), 3);
  });

  it('holds the name and the limit across two stores on separate connections to one database', async () => {
    const a = latentStore(3);
    const b = latentStore(3);
    const same = await Promise.allSettled([0, 1, 2, 3].map((i) => (i % 2 ? a : b).generate({ name: 'shared', owner: `user-${i}` })));
    assert.equal(outcome(same).won.length, 1);
    assert.deepEqual(new Set(outcome(same).lost.map((l) => l.code)), new Set(['token_name_in_use']));
    const burst = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => (i % 2 ? a : b).generate({ name: `carol-${i}`, owner: 'carol' })));
    assert.equal(outcome(burst).won.length, 3);
    assert.deepEqual(new Set(outcome(burst).lost.map((l) => l.code)), new Set(['token_limit_reached']));
    assert.equal(activeOf('carol'), 3);
  });
});
