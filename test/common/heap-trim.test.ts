// trimHeap must actually give back the young generation a busy start grew: a
// child node with the gateway's semi-space cap allocates until V8 has grown the
// young generation, then trims; the committed size must fall.
import { execFile } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MODULE = fileURLToPath(new URL('../../common/src/heap-trim.js', import.meta.url));

const CHILD = `
import v8 from 'node:v8';
const { trimHeap } = await import(process.argv[1]);
const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
// Objects that survive a scavenge or two make V8 grow the young generation, as module loading does.
let keep = [];
for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
keep = [];
const before = young();
// As in a server: trimmed from a timer once the allocation rate V8 measures (over ≈ 5 s) is low.
await new Promise((r) => setTimeout(r, 6000));
const ok = trimHeap();
process.stdout.write(JSON.stringify({ before, after: young(), ok }));
`;

describe('trimHeap', () => {
  it('shrinks the young generation that allocation grew', async () => {
    const { stdout } = await run(process.execPath, ['--max-semi-space-size=8', '--input-type=module', '-e', CHILD, MODULE]);
    const r = JSON.parse(stdout) as { before: number; after: number; ok: boolean };
    assert.equal(r.ok, true);
    assert.ok(r.before >= 8 * 1024 * 1024, `the young generation did not grow (${r.before} bytes): the test proves nothing`);
    assert.ok(r.after <= r.before / 4, `young generation ${r.before} → ${r.after} bytes`);
  });

  it('does not expose gc to the process global', async () => {
    const { trimHeap } = (await import(MODULE)) as { trimHeap: () => boolean };
    trimHeap();
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  });
});
