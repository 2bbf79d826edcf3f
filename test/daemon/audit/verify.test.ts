import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditLog } from '../../../daemon/src/audit/verify.js';
import { event, newKey, openSink, readLogLines, tempDir, testClock, writeLogLines } from './helpers.js';

// Three days of five entries each: seq 1-5 on Jan 1, 6-10 on Jan 2, 11-15 on Jan 3.
async function threeDays(dir: string, key: Buffer) {
  const clock = testClock('2026-01-01T10:00:00Z');
  const sink = await openSink(dir, key, clock.now);
  for (let day = 0; day < 3; day++) {
    for (let i = 0; i < 5; i++) await sink.record(event('session.start', day * 5 + i + 1));
    clock.advance(86_400_000);
  }
  await sink.maintain();
  await sink.close();
  return clock;
}

const D1 = 'audit-2026-01-01.jsonl.gz';
const D2 = 'audit-2026-01-02.jsonl.gz';
const D3 = 'audit-2026-01-03.jsonl';

describe('verifyAuditLog', () => {
  let dir: string;
  let cleanup: () => void;
  let key: Buffer;

  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    key = newKey();
    await threeDays(dir, key);
  });
  afterEach(() => cleanup());

  it('passes on an untouched log spanning compressed and current days', async () => {
    assert.deepEqual(readdirSync(dir).sort(), [D1, D2, D3]);
    const r = await verifyAuditLog(dir, key);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.entries, 15);
    assert.equal(r.files, 3);
  });

  it('fails with another key at the very first entry', async () => {
    const r = await verifyAuditLog(dir, newKey());
    assert.equal(r.ok, false);
    assert.equal(r.ok === false && r.file, D1);
    assert.equal(r.ok === false && r.line, 1);
  });

  it('reports the entry where one byte was edited', async () => {
    const lines = readLogLines(join(dir, D2));
    lines[2] = lines[2]!.replace('session:s-8', 'session:s-9');
    writeLogLines(join(dir, D2), lines);
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.deepEqual([r.file, r.line, r.seq], [D2, 3, 8]);
    assert.match(r.reason, /MAC mismatch/);
  });

  it('reports a line whose JSON no longer parses after an edit', async () => {
    const lines = readLogLines(join(dir, D3));
    lines[1] = lines[1]!.replace('{', '[');
    writeLogLines(join(dir, D3), lines);
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.deepEqual([r.file, r.line], [D3, 2]);
  });

  it('reports the entry after a deleted line', async () => {
    const lines = readLogLines(join(dir, D3));
    lines.splice(1, 1); // seq 12
    writeLogLines(join(dir, D3), lines);
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.deepEqual([r.file, r.line, r.seq], [D3, 2, 13]);
    assert.match(r.reason, /sequence 13 follows 11/);
  });

  it('reports the first of two swapped lines', async () => {
    const lines = readLogLines(join(dir, D2));
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    writeLogLines(join(dir, D2), lines);
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.deepEqual([r.file, r.line, r.seq], [D2, 2, 8]);
  });

  it('reports the file after a deleted middle day', async () => {
    unlinkSync(join(dir, D2));
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.deepEqual([r.file, r.line, r.seq], [D3, 1, 11]);
    assert.match(r.reason, /a file was deleted or files were reordered/);
  });

  it('detects two day files whose names were swapped', async () => {
    renameSync(join(dir, D1), join(dir, 'tmp'));
    renameSync(join(dir, D2), join(dir, D1));
    renameSync(join(dir, 'tmp'), join(dir, D2));
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.equal(r.file, D2);
    assert.equal(r.line, 1);
  });

  it('detects the oldest file being deleted when no checkpoint covers it', async () => {
    unlinkSync(join(dir, D1));
    const r = await verifyAuditLog(dir, key);
    assert.ok(!r.ok);
    assert.deepEqual([r.file, r.line, r.seq], [D2, 1, 6]);
    assert.match(r.reason, /starts mid-chain/);
  });

  it('ignores an unterminated final line (a crash mid-write, never acknowledged)', async () => {
    const lines = readLogLines(join(dir, D3));
    writeLogLines(join(dir, D3), lines);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(dir, D3), '{"timestamp":"2026-01-03T10:00');
    const r = await verifyAuditLog(dir, key);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.entries, 15);
  });

  describe('after retention expiry', () => {
    it('passes because a signed checkpoint names the deleted entries', async () => {
      const clock = testClock('2026-02-01T12:00:00Z');
      const sink = await openSink(dir, key, clock.now, { retentionDays: 30 });
      await sink.maintain();
      await sink.close();
      // With 30 days' retention on Feb 1, Jan 1 and Jan 2 expire; Jan 3 is kept.
      assert.equal(existsSync(join(dir, D1)), false);
      assert.equal(existsSync(join(dir, D2)), false);
      const r = await verifyAuditLog(dir, key);
      assert.equal(r.ok, true, JSON.stringify(r));
      const cp = readLogLines(join(dir, 'audit-2026-02-01.jsonl')).map((l) => JSON.parse(l)).find((e) => e.action === 'audit.checkpoint');
      assert.ok(cp, 'a checkpoint entry was written');
      assert.equal(cp.details.last_deleted_file, 'audit-2026-01-02.jsonl');
      assert.equal(cp.details.last_deleted_seq, 10);
    });

    it('still detects a kept file deleted after the checkpoint', async () => {
      const clock = testClock('2026-02-01T12:00:00Z');
      const sink = await openSink(dir, key, clock.now, { retentionDays: 30 });
      await sink.maintain();
      await sink.close();
      // The day change to Feb 1 has gzipped Jan 3 by now.
      assert.deepEqual(readdirSync(dir).sort(), [`${D3}.gz`, 'audit-2026-02-01.jsonl']);
      unlinkSync(join(dir, `${D3}.gz`));
      const r = await verifyAuditLog(dir, key);
      assert.ok(!r.ok);
      assert.equal(r.file, 'audit-2026-02-01.jsonl');
      assert.equal(r.line, 1);
    });
  });
});
