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

  it('answers a prefix that matches nothing as not found, the same through either transport', async () => {
    await assert.rejects(resolveId('session', 'abc', sessions), (e: LokiError) => e.code === 'session_not_found' && e.exitCode === 5 && /^no session matches "abc"/.test(e.message));
    await assert.rejects(resolveId('approval', 'apr-0000', async () => []), (e: LokiError) => e.code === 'approval_not_found' && /^no approval matches "apr-0000"/.test(e.message));
  });

  it("answers what is no id at all as invalid, in lokid's and the gateway's words", async () => {
    const noLookup = () => Promise.reject(new Error('no lookup'));
    await assert.rejects(resolveId('session', 'zzzz', noLookup), (e: LokiError) => e.code === 'invalid_argument' && e.exitCode === 2 && e.message === '"zzzz" is not a session id (ses- and 12 hex digits)');
    await assert.rejects(resolveId('session', '../../etc', noLookup), (e: LokiError) => e.code === 'invalid_argument' && e.message.startsWith('"../../etc" is not a session id'));
    await assert.rejects(resolveId('approval', 'zzzz', noLookup), (e: LokiError) => e.code === 'invalid_argument' && e.message.startsWith('"zzzz" is not an approval id'));
    await assert.rejects(resolveId('sandbox', 'Web', noLookup), (e: LokiError) => e.code === 'invalid_argument' && e.message.startsWith('"Web" is not a sandbox id'));
  });

  it('leaves a sandbox name that matches nothing listed to the daemon (it resolves names itself)', async () => {
    assert.equal(await resolveId('sandbox', 'db', async () => []), 'db');
  });

  it('resolves sandboxes by name prefix too', async () => {
    const boxes = async () => [{ id: 'sbx-aaaaaaaaaaaa', name: 'web' }, { id: 'sbx-bbbbbbbbbbbb', name: 'worker' }];
    assert.equal(await resolveId('sandbox', 'web', boxes), 'sbx-aaaaaaaaaaaa');
    assert.equal(await resolveId('sandbox', 'wo', boxes), 'sbx-bbbbbbbbbbbb');
    await assert.rejects(resolveId('sandbox', 'w', boxes), /matches 2 sandboxes; give more/);
  });
});
