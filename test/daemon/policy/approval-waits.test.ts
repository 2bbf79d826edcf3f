// Decides waiting for a human, per session (policy/approval-waits.ts): counted
// per session, cancelled per session on stop, and all at once at shutdown.
import assert from 'node:assert/strict';
import { ApprovalWaits, RUNNER_REPLACED } from '../../../daemon/src/policy/approval-waits.js';

describe('ApprovalWaits', () => {
  it('counts each session’s waits and says how many are left when one ends', () => {
    const w = new ApprovalWaits();
    const a1 = w.begin('ses-a');
    const a2 = w.begin('ses-a');
    w.begin('ses-b');
    assert.deepEqual([w.count('ses-a'), w.count('ses-b'), w.count('ses-c')], [2, 1, 0]);
    assert.equal(w.end('ses-a', a1), 1);
    assert.equal(w.end('ses-a', a2), 0);
    assert.equal(w.end('ses-a', a2), 0, 'ending twice is harmless');
    assert.equal(w.count('ses-a'), 0);
  });

  it('cancels only the stopped session’s waits, and every wait at shutdown', () => {
    const w = new ApprovalWaits();
    const a = w.begin('ses-a');
    const b = w.begin('ses-b');
    w.cancel('ses-a');
    assert.deepEqual([a.signal.aborted, b.signal.aborted], [true, false]);
    w.cancelAll();
    assert.equal(b.signal.aborted, true);
  });

  it('ends only the numbered waits of earlier runners at a Hello, with RUNNER_REPLACED', () => {
    const w = new ApprovalWaits();
    const older = w.begin('ses-a', 1);
    const unnumbered = w.begin('ses-a');
    const current = w.begin('ses-a', 2);
    const other = w.begin('ses-b', 1);
    w.replaced('ses-a', 2);
    assert.deepEqual([older.signal.aborted, unnumbered.signal.aborted, current.signal.aborted, other.signal.aborted], [true, false, false, false]);
    assert.equal(older.signal.reason, RUNNER_REPLACED);
  });
});
