import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { openDatabase } from '../../../daemon/src/store/db.js';
import { openSqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { TOKENS_CONFIG_DEFAULTS } from '../../../daemon/src/tokens/config.js';
import { TokenStore } from '../../../daemon/src/tokens/store.js';
import { DAY, makeFixture, type Fixture } from './helpers.js';

function totalChanges(f: Fixture): number {
  // Counts every row this connection has inserted, updated or deleted.
  return (f.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
}

async function rejectsWith(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof LokiError, `expected LokiError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('TokenStore', () => {
  let f: Fixture;
  beforeEach(() => {
    f = makeFixture();
  });
  afterEach(() => f.cleanup());

  it('verifies a freshly generated token and returns its identity', async () => {
    const { token, secret } = await f.store.generate({ name: 'ci-bot', role: 'operator', owner: 'local:1000' });
    assert.match(token.id, /^tok-[0-9a-f]{12}$/);
    const r = await f.store.verify(secret);
    assert.ok(r.ok);
    assert.equal(r.token.id, token.id);
    assert.equal(r.token.name, 'ci-bot');
    assert.deepEqual(r.token.scopes, ['control', 'write', 'read']);
    assert.equal(r.token.role, 'operator');
    assert.equal(r.token.owner, 'local:1000');
  });

  it('rejects an unknown but well-formed token as unknown', async () => {
    await f.store.generate({ name: 'a', owner: 'o' });
    const other = makeFixture();
    try {
      const { secret } = await other.store.generate({ name: 'a', owner: 'o' });
      assert.deepEqual(await f.store.verify(secret), { ok: false, reason: 'unknown' });
    } finally {
      await other.cleanup();
    }
  });

  it('rejects a malformed token and a token with a bad checksum as malformed', async () => {
    const { secret } = await f.store.generate({ name: 'a', owner: 'o' });
    assert.deepEqual(await f.store.verify('not-a-token'), { ok: false, reason: 'malformed' });
    assert.deepEqual(await f.store.verify(''), { ok: false, reason: 'malformed' });
    const last = secret.at(-1) === 'x' ? 'y' : 'x';
    assert.deepEqual(await f.store.verify(secret.slice(0, -1) + last), { ok: false, reason: 'malformed' });
  });

  it('rejects a revoked token as revoked, by name and by id', async () => {
    const a = await f.store.generate({ name: 'by-name', owner: 'o' });
    const b = await f.store.generate({ name: 'by-id', owner: 'o' });
    await f.store.revoke('by-name');
    await f.store.revoke(b.token.id);
    assert.deepEqual(await f.store.verify(a.secret), { ok: false, reason: 'revoked' });
    assert.deepEqual(await f.store.verify(b.secret), { ok: false, reason: 'revoked' });
  });

  it('rejects a token as expired once its expiry passes', async () => {
    const { token, secret } = await f.store.generate({ name: 'short', expiresDays: 1, owner: 'o' });
    assert.equal(token.expiresAt, f.clock.now + DAY);
    f.clock.now += DAY - 1;
    assert.ok((await f.store.verify(secret)).ok);
    f.clock.now += 1;
    assert.deepEqual(await f.store.verify(secret), { ok: false, reason: 'expired' });
  });

  it('uses tokens.default_expiration_days when no expiry is given, and -1 means never', async () => {
    const a = await f.store.generate({ name: 'a', owner: 'o' });
    assert.equal(a.token.expiresAt, f.clock.now + 90 * DAY);
    const b = await f.store.generate({ name: 'b', expiresDays: -1, owner: 'o' });
    assert.equal(b.token.expiresAt, null);
    f.clock.now += 10_000 * DAY;
    assert.ok((await f.store.verify(b.secret)).ok);
  });

  it('never writes the plaintext secret (or its leading characters) to the database files or the log', async () => {
    const secrets: string[] = [];
    for (const i of [0, 1, 2]) secrets.push((await f.store.generate({ name: `t${i}`, owner: 'o' })).secret);
    for (const s of secrets) await f.store.verify(s);
    await f.store.revoke('t1');
    await f.store.close();
    const files = readdirSync(join(f.home, 'state')).map((n) => join(f.home, 'state', n));
    assert.ok(files.some((p) => p.endsWith('-wal')), 'the test should also inspect the WAL');
    const bytes = Buffer.concat(files.map((p) => readFileSync(p)));
    const log = f.logLines.join('');
    assert.ok(log.includes('token generated'), 'the log should have been written');
    for (const s of secrets) {
      for (const needle of [s, s.slice(5, 21), s.slice(-16)]) {
        assert.equal(bytes.includes(Buffer.from(needle)), false, `DB contains ${needle.slice(0, 8)}…`);
        assert.equal(log.includes(needle), false, 'log contains the secret');
      }
    }
  });

  it('keeps the database files at mode 0600', async () => {
    await f.store.generate({ name: 'a', owner: 'o' });
    for (const n of readdirSync(join(f.home, 'state'))) {
      assert.equal(statSync(join(f.home, 'state', n)).mode & 0o777, 0o600, n);
    }
  });

  it('refuses more than tokens.max_active_per_user active tokens per owner, counting only active ones', async () => {
    await f.cleanup();
    f = makeFixture({ max_active_per_user: 2 });
    await f.store.generate({ name: 'a', owner: 'alice' });
    await f.store.generate({ name: 'b', expiresDays: 1, owner: 'alice' });
    await rejectsWith(() => f.store.generate({ name: 'c', owner: 'alice' }), 'token_limit_reached', /max_active_per_user = 2/);
    await f.store.generate({ name: 'other-owner', owner: 'bob' });
    f.clock.now += 2 * DAY; // b expires
    await f.store.generate({ name: 'c', owner: 'alice' });
    await f.store.revoke('a');
    await f.store.generate({ name: 'd', owner: 'alice' });
    await rejectsWith(() => f.store.generate({ name: 'e', owner: 'alice' }), 'token_limit_reached');
  });

  it('validates names and keeps them unique among unrevoked tokens', async () => {
    for (const bad of ['', '-lead', 'has space', 'x'.repeat(65), 'ünï', 'a/b', 'tok-0123456789ab']) {
      await rejectsWith(() => f.store.generate({ name: bad, owner: 'o' }), 'invalid_argument');
    }
    await f.store.generate({ name: 'A.b_c-9', owner: 'o' });
    await rejectsWith(() => f.store.generate({ name: 'A.b_c-9', owner: 'o' }), 'token_name_in_use');
    await f.store.revoke('A.b_c-9');
    await f.store.generate({ name: 'A.b_c-9', owner: 'o' });
  });

  it('maps roles and scopes, rejecting unknown scopes by name and inconsistent combinations', async () => {
    assert.deepEqual((await f.store.generate({ name: 'v', owner: 'o' })).token.scopes, ['read']);
    assert.deepEqual((await f.store.generate({ name: 'adm', role: 'admin', owner: 'o' })).token.scopes, ['*']);
    const rw = (await f.store.generate({ name: 'rw', scopes: ['read,write'], owner: 'o' })).token;
    assert.deepEqual([rw.role, rw.scopes], ['', ['read', 'write']]);
    const aud = (await f.store.generate({ name: 'aud', scopes: ['audit', 'read'], owner: 'o' })).token;
    assert.equal(aud.role, 'auditor');
    assert.deepEqual((await f.store.generate({ name: 'same', role: 'viewer', scopes: ['read'], owner: 'o' })).token.scopes, ['read']);
    await rejectsWith(() => f.store.generate({ name: 'x', scopes: ['read', 'deploy'], owner: 'o' }), 'invalid_argument', /"deploy"/);
    await rejectsWith(() => f.store.generate({ name: 'x', role: 'root', owner: 'o' }), 'invalid_argument', /unknown role "root"/);
    await rejectsWith(() => f.store.generate({ name: 'x', role: 'viewer', scopes: ['write'], owner: 'o' }), 'invalid_argument', /conflict/);
    await rejectsWith(() => f.store.generate({ name: 'x', expiresDays: 4000, owner: 'o' }), 'invalid_argument', /expires_days/);
  });

  it('does not write to the database on verify; last-used times are flushed in one batch', async () => {
    const { token, secret } = await f.store.generate({ name: 'hot', owner: 'o' });
    const walPath = f.dbPath + '-wal';
    const before = totalChanges(f);
    const walBefore = statSync(walPath).size;
    for (let i = 0; i < 50; i++) {
      f.clock.now += 1000;
      assert.ok((await f.store.verify(secret)).ok);
    }
    assert.equal(totalChanges(f), before, 'verify must not write');
    assert.equal(statSync(walPath).size, walBefore, 'WAL must not grow during verify');
    const stored = () => (f.db.prepare('SELECT last_used_at FROM tokens WHERE id = ?').get(token.id) as { last_used_at: number | null }).last_used_at;
    assert.equal(stored(), null);
    assert.equal((await f.store.list())[0]!.lastUsedAt, f.clock.now, 'list shows the pending last-used time');
    await f.store.flushLastUsed();
    assert.equal(totalChanges(f), before + 1, 'one row update for fifty verifications');
    assert.equal(stored(), f.clock.now);
  });

  it('flushes pending last-used times when closed', async () => {
    const { token, secret } = await f.store.generate({ name: 'a', owner: 'o' });
    await f.store.verify(secret);
    await f.store.close();
    const db2 = openDatabase(f.dbPath);
    try {
      const row = db2.prepare('SELECT last_used_at FROM tokens WHERE id = ?').get(token.id) as { last_used_at: number };
      assert.equal(row.last_used_at, f.clock.now);
    } finally {
      db2.close();
    }
  });

  it('flushes last-used times on its own timer', async () => {
    await f.cleanup();
    f = makeFixture({ last_used_flush_ms: 100 });
    const { token, secret } = await f.store.generate({ name: 'a', owner: 'o' });
    await f.store.verify(secret);
    const stored = () => (f.db.prepare('SELECT last_used_at FROM tokens WHERE id = ?').get(token.id) as { last_used_at: number | null }).last_used_at;
    assert.equal(stored(), null);
    // Poll rather than sleep a fixed time: the machine is shared and timers can run late.
    for (let waited = 0; stored() === null && waited < 3000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    assert.equal(stored(), f.clock.now);
  });

  it('lists active tokens by default and every token with all', async () => {
    await f.store.generate({ name: 'live', owner: 'o' });
    await f.store.generate({ name: 'gone', owner: 'o' });
    await f.store.generate({ name: 'old', expiresDays: 1, owner: 'o' });
    await f.store.revoke('gone');
    f.clock.now += 2 * DAY;
    assert.deepEqual((await f.store.list()).map((t) => t.name), ['live']);
    assert.deepEqual((await f.store.list({ all: true })).map((t) => t.name).sort(), ['gone', 'live', 'old']);
  });

  it('reports a missing token on revoke as token_not_found and revoking twice is harmless', async () => {
    await rejectsWith(() => f.store.revoke('nope'), 'token_not_found');
    await rejectsWith(() => f.store.revoke('tok-000000000000'), 'token_not_found');
    await rejectsWith(() => f.store.revoke('../etc'), 'invalid_argument');
    const { token } = await f.store.generate({ name: 'a', owner: 'o' });
    const first = await f.store.revoke(token.id);
    f.clock.now += 1000;
    const second = await f.store.revoke(token.id);
    assert.equal(second.revokedAt, first.revokedAt);
  });

  it('keeps tokens across a reopen of the database', async () => {
    const { secret } = await f.store.generate({ name: 'a', owner: 'o' });
    await f.store.close();
    f.db.close();
    const db = openSqliteStore(f.dbPath);
    const store = new TokenStore({ repo: db.tokens, config: TOKENS_CONFIG_DEFAULTS, log: f.log, now: () => f.clock.now });
    try {
      assert.ok((await store.verify(secret)).ok);
    } finally {
      await store.close();
      db.close();
    }
  });
});
