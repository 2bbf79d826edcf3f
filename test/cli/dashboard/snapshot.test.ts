import assert from 'node:assert/strict';
import { escapeForDisplay } from '../../../common/src/index.js';
import { collectSnapshot, snapshotJsonLines, snapshotText } from '../../../cli/src/dashboard/snapshot.js';
import { approval, fixture, sandbox, session } from './fixture-client.js';

describe('loki dashboard snapshot (stdout not a terminal)', () => {
  const action = 'echo \u001b[2J\u202etxt.exe ' + 'x'.repeat(300);
  const f = fixture({ sessions: [session('ses-1')], pending: [approval('apr-1', action)], sandboxes: [sandbox('abc')] });

  it('prints status, sessions, the whole escaped action and sandboxes as plain text', async () => {
    const text = snapshotText(await collectSnapshot(f.client), f.client.transport).join('\n');
    assert.match(text, /^loki dashboard snapshot .* grpc \/tmp\/loki\/run\/admin\.sock · lokid 0\.1\.0 · 1 pending approvals/);
    assert.ok(text.includes('ses-1'));
    assert.ok(text.includes(escapeForDisplay(action)), 'the action whole and escaped');
    assert.ok(!text.includes('\u001b') && !text.includes('\u202e'), 'no raw control or bidi characters');
    assert.ok(text.includes('sb-abc'));
  });

  it('prints the same data as JSON lines', async () => {
    const lines = snapshotJsonLines(await collectSnapshot(f.client), f.client.transport).map((l) => JSON.parse(l) as { kind: string; action?: string });
    assert.deepEqual(lines.map((l) => l.kind), ['status', 'session', 'approval', 'sandbox']);
    assert.equal(lines[2]!.action, action, 'JSON carries the exact action (consumers escape for display)');
  });

  it('fails with the daemon error when the daemon is down', async () => {
    const g = fixture();
    g.down = true;
    await assert.rejects(collectSnapshot(g.client), /lokid is not running/);
  });
});
