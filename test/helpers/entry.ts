// Locates a process entry point both when tests run compiled (dist/…/*.js) and
// from source through tsx (*.ts), and builds the argv to spawn it.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
/** test/helpers → repository (or dist) root. */
export const ROOT = resolve(here, '..', '..');

export type Entry = 'daemon' | 'gateway' | 'cli';
const REL: Record<Entry, string> = { daemon: 'daemon/src/main', gateway: 'gateway/src/main', cli: 'cli/src/main' };

/** node argv (without the node binary) that runs the given entry point. */
export function entryArgv(entry: Entry): string[] {
  const js = join(ROOT, `${REL[entry]}.js`);
  if (existsSync(js)) return ['--enable-source-maps', js];
  return ['--import', 'tsx', join(ROOT, `${REL[entry]}.ts`)];
}

/** A short temp dir (unix socket paths must stay under 108 bytes). */
export function shortTempDir(prefix = 'lk'): string {
  return mkdtempSync(join(existsSync('/tmp') ? '/tmp' : tmpdir(), `${prefix}-`));
}
