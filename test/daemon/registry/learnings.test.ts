// LearningStore on a real SQLite file: FTS5 search ranks the exact phrase
// first, treats the query as words (no FTS syntax of the caller's reaches
// MATCH), scopes by project and validates what it stores.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LearningStore, ftsTerms } from '../../../daemon/src/registry/learnings.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';

describe('LearningStore', () => {
  let dir: string;
  let db: SqliteStore;
  let store: LearningStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loki-learn-'));
    db = openSqliteStore(join(dir, 'loki.db'));
    store = new LearningStore(db.learnings);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ranks the exact phrase first, then rows with every term, and leaves out rows missing a term', async () => {
    const add = async (text: string, project = 'prj-a', tags: string[] = []) => (await store.record({ sessionId: 'ses-1', projectId: project, text, tags })).id;
    // bm25 alone would put this one first: short, and both terms twice.
    const terms = await add('rotation of the token, token expiry and rotation');
    const phrase = await add('We learned that token rotation must happen before the deploy window opens, every single time, and we wrote it down here at length.');
    await add('rotation of tyres');
    await add('token rotation', 'prj-other');
    const r = await store.search('token rotation', ['prj-a']);
    assert.deepEqual(r.map((l) => [l.id, l.match]), [
      [phrase, 'phrase'],
      [terms, 'terms'],
    ]);
    assert.deepEqual((await store.search('TOKEN', ['prj-a'])).map((l) => l.id).sort(), [terms, phrase].sort());
    assert.deepEqual(await store.search('token rotation', []), []);
  });

  it('searches tags too and lists newest first', async () => {
    const a = await store.record({ sessionId: 'ses-1', projectId: 'p', text: 'use the staging database for migrations', tags: ['db', 'auth:oidc'] });
    const b = await store.record({ sessionId: 'ses-2', projectId: 'p', text: 'second' });
    assert.deepEqual((await store.search('oidc', ['p'])).map((l) => l.id), [a.id]);
    assert.deepEqual((await store.list(['p'])).map((l) => l.id), [b.id, a.id]);
    assert.deepEqual((await store.list(['p']))[1]!.tags, ['db', 'auth:oidc']);
    assert.equal(await store.countForSession('ses-1'), 1);
  });

  it('turns FTS5 syntax in a query into plain words instead of an error', async () => {
    await store.record({ sessionId: 's', projectId: 'p', text: 'NEAR the column of auth' });
    for (const q of ['NEAR(auth column)', 'auth*', '"unbalanced', 'text:auth', '-auth OR', '^auth']) {
      await assert.doesNotReject(store.search(q, ['p']), q);
    }
    assert.deepEqual(ftsTerms('text:auth* "x'), ['"text"', '"auth"', '"x"']);
    await assert.rejects(store.search('*** ---', ['p']), /at least one word/);
  });

  it('refuses empty text, oversized text and bad tags with clear errors', async () => {
    await assert.rejects(store.record({ sessionId: 's', projectId: 'p', text: '  ' }), /needs text/);
    await assert.rejects(store.record({ sessionId: 's', projectId: 'p', text: 'x'.repeat(5000) }), /at most 4096 bytes/);
    await assert.rejects(store.record({ sessionId: 's', projectId: 'p', text: 'ok', tags: ['has space'] }), /invalid tag "has space"/);
    await assert.rejects(store.record({ sessionId: 's', projectId: 'p', text: 'ok', tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }), /at most 16 tags/);
  });

  it('keeps a session within its learnings quota when reports race (check and insert are one transaction)', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.recordWithin({ sessionId: 'q', projectId: 'p', text: `note ${i}` }, 3)));
    assert.equal(results.filter((r) => r !== 'over').length, 3);
    assert.equal(await store.countForSession('q'), 3);
    // Over the quota comes before invalid, as when the check was a separate step.
    assert.equal(await store.recordWithin({ sessionId: 'q', projectId: 'p', text: ' ' }, 3), 'over');
    await assert.rejects(store.recordWithin({ sessionId: 'r', projectId: 'p', text: ' ' }, 3), /needs text/);
  });
});
