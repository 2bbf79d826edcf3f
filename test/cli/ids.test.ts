import assert from 'node:assert/strict';
import type { LokiError } from '../../common/src/index.js';
import { resolveId } from '../../cli/src/ids.js';

const sessions = async () => [{ id: 'ses-3fa200000001' }, { id: 'ses-3fa200000002' }, { id: 'ses-9b0000000000' }];

describe('ID prefixes', () => {
  it('resolves a unique prefix, with or without the ses- part, and passes full ids through without a lookup', async () => {
    assert.equal(await resolveId('session', '9b', sessions), 'ses-9b0000000000');
    assert.equal(await resolveId('session', 'ses-9b', sessions), 'ses-9b0000000000');
    assert.equal(await resolveId('session', 'ses-111111111111', () => Promise.reject(new Error('no lookup'))), 'ses-111111111111');
  });

  it('lists the matches of an ambiguous prefix instead of guessing', async () => {
    await assert.rejects(resolveId('session', '3fa2', sessions), (e: LokiError) => {
      assert.equal(e.code, 'invalid_argument');
      assert.match(e.message, /"3fa2" matches 2 sessions; give more of the id:\n {2}ses-3fa200000001\n {2}ses-3fa200000002/);
      return true;
    });
  });

  it('leaves what matches nothing (or is not shaped like an id) to the daemon', async () => {
    assert.equal(await resolveId('session', 'abc', sessions), 'abc');
    assert.equal(await resolveId('session', '../../etc', sessions), '../../etc');
  });

  it('resolves sandboxes by name prefix too', async () => {
    const boxes = async () => [{ id: 'sbx-aaaaaaaaaaaa', name: 'web' }, { id: 'sbx-bbbbbbbbbbbb', name: 'worker' }];
    assert.equal(await resolveId('sandbox', 'web', boxes), 'sbx-aaaaaaaaaaaa');
    assert.equal(await resolveId('sandbox', 'wo', boxes), 'sbx-bbbbbbbbbbbb');
    await assert.rejects(resolveId('sandbox', 'w', boxes), /matches 2 sandboxes; give more/);
  });
});
