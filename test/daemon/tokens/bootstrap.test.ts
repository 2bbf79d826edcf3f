import assert from 'node:assert/strict';
import { readFileSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBootstrapAdminToken } from '../../../daemon/src/tokens/bootstrap.js';
import { makeFixture, type Fixture } from './helpers.js';

describe('ensureBootstrapAdminToken', () => {
  let f: Fixture;
  let path: string;
  beforeEach(() => {
    f = makeFixture();
    path = join(f.home, 'cli-token');
  });
  afterEach(() => f.cleanup());

  it('creates a never-expiring local-admin token on first run and stores its secret 0600', async () => {
    const secret = await ensureBootstrapAdminToken(f.store, path, { owner: 'local:1000' });
    assert.ok(secret);
    assert.equal(readFileSync(path, 'utf8'), secret + '\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const r = await f.store.verify(secret);
    assert.ok(r.ok);
    assert.equal(r.token.name, 'local-admin');
    assert.deepEqual(r.token.scopes, ['*']);
    assert.equal(r.token.expiresAt, null);
  });

  it('has the new token audited before it is stored or its secret written, and hands nothing out when the audit fails', async () => {
    const seen: { id: string; name: string; owner: string; fileThen: boolean; storedThen: number }[] = [];
    const audit = async (t: { id: string; name: string; owner: string }) => void seen.push({ ...t, fileThen: readFileSync(path, 'utf8') !== '', storedThen: (await f.store.list()).length });
    const secret = await ensureBootstrapAdminToken(f.store, path, { owner: 'local:1000', audit });
    assert.ok(secret);
    const r = await f.store.verify(secret);
    assert.ok(r.ok);
    assert.deepEqual(seen, [{ id: r.token.id, name: 'local-admin', owner: 'local:1000', fileThen: false, storedThen: 0 }], 'audited once, before the token was stored and its secret reached the file');

    await f.cleanup();
    f = makeFixture();
    path = join(f.home, 'cli-token');
    await assert.rejects(ensureBootstrapAdminToken(f.store, path, { audit: () => Promise.reject(new Error('audit log is full')) }), /audit log is full/);
    assert.equal(existsSync(path), false, 'no secret file');
    assert.equal((await f.store.list()).length, 0, 'the unaudited token was never stored');
  });

  it('does nothing on the second run', async () => {
    assert.ok(await ensureBootstrapAdminToken(f.store, path));
    assert.equal(await ensureBootstrapAdminToken(f.store, path), undefined);
    assert.equal((await f.store.list()).length, 1);
  });

  it('does nothing when an active admin token already exists', async () => {
    await f.store.generate({ name: 'mine', role: 'admin', owner: 'o' });
    assert.equal(await ensureBootstrapAdminToken(f.store, path), undefined);
    assert.equal(existsSync(path), false);
  });

  it('never overwrites an existing token file, even when no admin token exists', async () => {
    writeFileSync(path, 'something else\n', { mode: 0o600 });
    assert.equal(await ensureBootstrapAdminToken(f.store, path), undefined);
    assert.equal(readFileSync(path, 'utf8'), 'something else\n');
    assert.equal((await f.store.list()).length, 0);
  });

  it('refuses to follow a planted symlink', async () => {
    const target = join(f.home, 'elsewhere');
    symlinkSync(target, path);
    assert.equal(await ensureBootstrapAdminToken(f.store, path), undefined);
    assert.equal(existsSync(target), false);
  });

  it('counts toward max_active_per_user and leaves no file or token behind when refused', async () => {
    await f.cleanup();
    f = makeFixture({ max_active_per_user: 1 });
    path = join(f.home, 'cli-token');
    await f.store.generate({ name: 'viewer-1', owner: 'local:1000' });
    await assert.rejects(ensureBootstrapAdminToken(f.store, path, { owner: 'local:1000' }), /max_active_per_user/);
    assert.equal(existsSync(path), false);
    assert.equal(await f.store.hasActiveAdminToken(), false);
  });
});
