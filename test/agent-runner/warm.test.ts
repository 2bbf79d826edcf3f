// The runner's warm-up while a pool slot waits for its claim: one call through a
// throwaway in-process server, which leaves nothing behind and never fails the runner.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmUp } from '../../agent-runner/src/warm.js';

describe('agent-runner warm-up (before a pool claim)', () => {
  let tmp: string;
  const saved = process.env.TMPDIR;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'loki-warm-test-'));
    process.env.TMPDIR = tmp;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('makes its calls through a private socket under the sandbox /tmp, answered like lokid answers them, and removes it', async () => {
    // Answered, not refused: an answer the server cannot serialise would leave the client's decoding cold.
    assert.equal(await warmUp(), true);
    assert.deepEqual(readdirSync(tmp), []);
  });

  it('never throws: without a writable /tmp it is simply skipped', async () => {
    process.env.TMPDIR = join(tmp, 'missing');
    assert.equal(await warmUp(), false);
    assert.deepEqual(readdirSync(tmp), []);
  });
});
