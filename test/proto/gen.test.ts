import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { installRoot } from '../../daemon/src/config.js';
import { shortTempDir } from '../helpers/entry.js';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

describe('proto/gen (committed ts-proto output)', function () {
  this.timeout(60_000);
  const root = installRoot();
  let out: string;

  before(() => {
    out = shortTempDir('lk-gen');
    execFileSync(process.execPath, [join(root, 'scripts', 'gen-proto.mjs'), out], { cwd: root, stdio: 'pipe' });
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('is exactly what `npm run gen` produces from proto/**/*.proto (run `npm run gen` when this fails)', () => {
    const committedDir = join(root, 'proto', 'gen');
    const fresh = walk(out).map((p) => relative(out, p)).sort();
    const committed = walk(committedDir).map((p) => relative(committedDir, p)).sort();
    assert.ok(fresh.length > 0, 'the generator produced files');
    assert.deepEqual(committed.filter((p) => !fresh.includes(p)), [], 'proto/gen has files the generator no longer produces');
    assert.deepEqual(fresh.filter((p) => !committed.includes(p)), [], 'proto/gen is missing generated files');
    const stale = fresh.filter((p) => !readFileSync(join(out, p)).equals(readFileSync(join(committedDir, p))));
    assert.deepEqual(stale, [], 'these generated files are stale');
  });
});
