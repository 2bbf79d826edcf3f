// Locates a process entry point both when tests run compiled (dist/…/*.js) and
// from source through tsx (*.ts), and builds the argv to spawn it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

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
/** Under /tmp (unix socket paths stay short), or under LOKI_TEST_TMPDIR when a shared machine gives each run its own. */
export function shortTempDir(prefix = 'lk'): string {
  const root = process.env.LOKI_TEST_TMPDIR || (existsSync('/tmp') ? '/tmp' : tmpdir());
  return mkdtempSync(join(root, `${prefix}-`));
}

export interface ProcessRun {
  code: number;
  out: string;
  err: string;
}

/** Runs a process entry point as its own process; never throws on a non-zero exit (the code is returned). */
export async function runEntry(entry: Entry, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<ProcessRun> {
  try {
    const r = await promisify(execFile)(process.execPath, [...entryArgv(entry), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', ...(cwd ? { cwd } : {}) });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

/**
 * The real `loki` CLI, as its own process, on a lokid's admin socket. Asynchronous on purpose:
 * the lokid under test often runs in the test's own process and must keep serving meanwhile.
 */
export function lokiProcess(home: string, socket: string, args: string[], opts: { cwd?: string } = {}): Promise<ProcessRun> {
  return runEntry('cli', args, { LOKI_HOME: home, LOKI_SOCKET: socket }, opts.cwd);
}
