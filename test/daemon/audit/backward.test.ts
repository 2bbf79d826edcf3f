// The backward reader behind the newest-first audit page: the same complete lines
// as reading forward, in reverse, across chunk boundaries and for lines longer than
// a chunk, with an unterminated tail (a batch still being written) left out.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLinesBackward } from '../../../daemon/src/audit/backward.js';
import type { AuditFile } from '../../../daemon/src/audit/files.js';

async function backward(path: string): Promise<string[]> {
  const file: AuditFile = { day: '2026-01-01', base: 'x.jsonl', name: 'x.jsonl', path, gz: false };
  const out: string[] = [];
  for await (const l of readLinesBackward(file)) out.push(l);
  return out;
}

describe('readLinesBackward', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lk-back-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('yields every complete line newest first, across chunks and for lines longer than a chunk', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `{"i":${i},"pad":"${'x'.repeat((i * 37) % 300)}"}`);
    lines.splice(1500, 0, `{"long":"${'y'.repeat(200_000)}"}`);
    const path = join(dir, 'a.jsonl');
    writeFileSync(path, lines.join('\n') + '\n');
    assert.deepEqual(await backward(path), [...lines].reverse());
  });

  it('leaves out an unterminated tail, even one longer than a chunk', async () => {
    const path = join(dir, 'b.jsonl');
    writeFileSync(path, `{"a":1}\n{"b":2}\n{"torn":"${'z'.repeat(100_000)}`);
    assert.deepEqual(await backward(path), ['{"b":2}', '{"a":1}']);
    writeFileSync(path, '{"torn":');
    assert.deepEqual(await backward(path), []);
    writeFileSync(path, '');
    assert.deepEqual(await backward(path), []);
  });
});
