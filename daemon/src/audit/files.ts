// Reading the audit directory: which files exist in chain order, and their
// lines as a stream (gzip or plain) so no reader ever holds a whole file.
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, fstatSync, writeSync, fsyncSync, chmodSync } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { parseFileName } from './format.js';

export interface AuditFile {
  day: string;
  /** Uncompressed name, the one the chain refers to. */
  base: string;
  /** Actual name on disk (`.jsonl` or `.jsonl.gz`). */
  name: string;
  path: string;
  gz: boolean;
}

/** Audit files oldest first. When a day exists both plain and gzipped (a crash mid-compression), the plain one is authoritative. */
export async function listAuditFiles(dir: string): Promise<AuditFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const byDay = new Map<string, AuditFile>();
  for (const name of names) {
    const p = parseFileName(name);
    if (!p) continue;
    const existing = byDay.get(p.day);
    if (existing && !existing.gz) continue;
    byDay.set(p.day, { day: p.day, base: p.base, name, path: join(dir, name), gz: p.gz });
  }
  return [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

/**
 * Yields the lines of a file in order, with 1-based line numbers. The final
 * fragment is flagged `terminated: false` when the file does not end in a
 * newline (an unacknowledged torn write).
 */
export async function* readLines(file: AuditFile): AsyncGenerator<{ line: string; lineNo: number; terminated: boolean }> {
  let gz = file.gz;
  let fh: FileHandle;
  try {
    fh = await open(file.path, 'r');
  } catch (err) {
    // The day was gzipped between listing and opening: read the compressed copy.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || gz) throw err;
    fh = await open(`${file.path}.gz`, 'r');
    gz = true;
  }
  const raw = fh.createReadStream();
  const input = gz ? raw.pipe(createGunzip()) : raw;
  let lastByte = 0x0a;
  input.on('data', (chunk: Buffer) => {
    if (chunk.length) lastByte = chunk[chunk.length - 1]!;
  });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let pending: string | undefined;
  let n = 0;
  try {
    for await (const line of rl) {
      if (pending !== undefined) yield { line: pending, lineNo: n, terminated: true };
      pending = line;
      n++;
    }
    if (pending !== undefined) yield { line: pending, lineNo: n, terminated: lastByte === 0x0a };
  } finally {
    rl.close();
    raw.destroy();
  }
}

/** fsync a directory so a file created or renamed in it survives a power cut. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads the 32-byte HMAC key, creating it (0600, O_EXCL) on first run. The key
 * lives under state/, which is never mounted into a sandbox.
 */
export function loadOrCreateKey(path: string, log?: Logger): Buffer {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, randomBytes(32));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      fsyncDir(dirname(path));
      log?.info({ path }, 'created audit HMAC key');
    } catch (err) {
      // Another process won the race; fall through and read its key.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if ((st.mode & 0o077) !== 0) {
      log?.warn({ path, mode: (st.mode & 0o777).toString(8) }, 'audit key was readable by others; tightening to 0600');
      chmodSync(path, 0o600);
    }
  } finally {
    closeSync(fd);
  }
  const key = readFileSync(path);
  if (key.length !== 32) throw new LokiError('internal', `audit key ${path} must be exactly 32 bytes (found ${key.length})`);
  return key;
}
