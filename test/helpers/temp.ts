// A fresh temporary directory for each test of a suite (mocha hooks), removed after it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Call inside `describe`: `.path` is a new empty directory in every test. */
export function tempDirEach(prefix: string): { readonly path: string } {
  const d = { path: '' };
  beforeEach(() => {
    d.path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(d.path, { recursive: true, force: true }));
  return d;
}
