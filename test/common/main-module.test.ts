// The three binaries must run when started through a symlink, the way npm bin
// links and a /usr/local/bin/… systemd ExecStart start them. The old check
// compared import.meta.url with argv[1] (the link) and silently did nothing.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { strict as assert } from 'node:assert';
import { pathToFileURL } from 'node:url';
import { isMainModule } from '../../common/src/index.js';
import { ROOT, entryArgv, shortTempDir, type Entry } from '../helpers/entry.js';

const run = promisify(execFile);

const BINS: Array<[string, Entry, RegExp]> = [
  ['loki', 'cli', /Usage: loki/],
  ['lokid', 'daemon', /Usage: lokid/],
  ['loki-gateway', 'gateway', /usage: loki-gateway/],
];

describe('isMainModule', () => {
  let dir: string;
  before(() => {
    dir = shortTempDir('lkmm');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, entry, usage] of BINS) {
    it(`runs ${name} started through a chain of symlinks (npm link → /usr/local/bin)`, async () => {
      const argv = entryArgv(entry);
      const target = argv[argv.length - 1]!;
      // /usr/local/bin/<name> → node_modules/.bin/<name> → dist/…/main.js
      const binDir = join(dir, name, 'node_modules', '.bin');
      mkdirSync(binDir, { recursive: true });
      symlinkSync(target, join(binDir, name));
      const outer = join(dir, name, name);
      symlinkSync(join(binDir, name), outer);
      const { stdout } = await run(process.execPath, [...argv.slice(0, -1), outer, '--help'], { cwd: dir, timeout: 30_000 });
      assert.match(stdout, usage);
    });
  }

  it('is false for a module that is not the started script, and for no script at all', () => {
    assert.equal(isMainModule(pathToFileURL(join(ROOT, 'common', 'src', 'index.js')).href, join(ROOT, 'cli', 'src', 'main.js')), false);
    assert.equal(isMainModule(pathToFileURL(join(ROOT, 'cli', 'src', 'main.js')).href, undefined), false);
    assert.equal(isMainModule(pathToFileURL(join(ROOT, 'cli', 'src', 'main.js')).href, join(dir, 'does-not-exist')), false);
  });
});
