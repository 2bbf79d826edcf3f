// Start-up recovery, compression of past days and retention. Each step is
// crash-safe on its own: gzip goes through a temp file + rename, and expired
// files are deleted only after a signed checkpoint naming them is durable.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, unlink, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { fsyncDir, listAuditFiles, readLines, type AuditFile } from './files.js';
import { macMatches, parseEntry, type AuditEntry } from './format.js';

export interface RecoveredTail {
  entry: AuditEntry;
  fileBase: string;
  day: string;
  /** The newest file is plain, so new entries of the same day append to it. */
  appendable: boolean;
}

/** Reads the last complete line of a plain file, truncating an unterminated fragment first. */
async function lastLineOfPlain(file: AuditFile, log: Logger): Promise<string | undefined> {
  const fh = await open(file.path, 'r+');
  try {
    const size = (await fh.stat()).size;
    if (size === 0) return undefined;
    const chunk = 64 * 1024;
    let end = size;
    let buf = Buffer.alloc(0);
    // Read backwards until the buffer holds the last complete line.
    for (;;) {
      const start = Math.max(0, end - chunk);
      const part = Buffer.alloc(end - start);
      await fh.read(part, 0, part.length, start);
      buf = Buffer.concat([part, buf]);
      end = start;
      const lastNl = buf.lastIndexOf(0x0a);
      const complete = lastNl >= 0 ? buf.subarray(0, lastNl) : undefined;
      if (complete && (complete.lastIndexOf(0x0a) >= 0 || start === 0)) break;
      if (start === 0) break;
    }
    const bufStart = end;
    let lastNl = buf.lastIndexOf(0x0a);
    if (lastNl !== buf.length - 1) {
      // A torn write from a crash: never fsync'd, never acknowledged. Drop it.
      const keep = bufStart + lastNl + 1;
      log.warn({ file: file.name, dropped_bytes: size - keep }, 'truncating an unacknowledged partial audit line left by a crash');
      await fh.truncate(keep);
      await fh.sync();
      if (lastNl < 0) return undefined;
    }
    lastNl = buf.lastIndexOf(0x0a);
    // (lastIndexOf with a negative offset would count from the end.)
    const prevNl = lastNl > 0 ? buf.lastIndexOf(0x0a, lastNl - 1) : -1;
    return buf.subarray(prevNl + 1, lastNl).toString('utf8');
  } finally {
    await fh.close();
  }
}

async function lastLineOfGz(file: AuditFile): Promise<string | undefined> {
  let last: string | undefined;
  for await (const { line } of readLines(file)) if (line !== '') last = line;
  return last;
}

/**
 * Finds the chain head (newest entry) so seq/prev continue across restarts.
 * Refuses to start on a corrupt tail or a key that did not write the log:
 * appending to a chain we cannot continue would only hide the problem.
 */
export async function recoverTail(dir: string, key: Buffer, log: Logger): Promise<RecoveredTail | undefined> {
  const files = await listAuditFiles(dir);
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i]!;
    const line = file.gz ? await lastLineOfGz(file) : await lastLineOfPlain(file, log);
    if (line === undefined) continue;
    const entry = parseEntry(line);
    if (!entry) {
      throw new LokiError('internal', `the last audit entry in ${file.name} is corrupt; run \`loki enterprise audit verify\` and move the damaged file aside`);
    }
    if (!macMatches(key, entry)) {
      throw new LokiError('internal', `the audit key does not match the last entry in ${file.name} (was state/audit.key replaced?)`);
    }
    return { entry, fileBase: file.base, day: file.day, appendable: !file.gz && i === files.length - 1 };
  }
  return undefined;
}

/** Gzips every plain file of a day before `beforeDay`. */
export async function compressPastDays(dir: string, beforeDay: string, log: Logger): Promise<void> {
  for (const file of await listAuditFiles(dir)) {
    if (file.gz || file.day >= beforeDay) continue;
    const tmp = `${file.path}.gz.tmp`;
    await pipeline(createReadStream(file.path), createGzip(), createWriteStream(tmp, { mode: 0o600 }));
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, `${file.path}.gz`);
    fsyncDir(dir);
    await unlink(file.path);
    fsyncDir(dir);
    log.info({ file: file.name }, 'compressed past audit file');
  }
}

export interface RetentionOptions {
  dir: string;
  /** Files of this day or older are expired. */
  cutoffDay: string;
  /** Never delete this day or newer (the file holding the chain head). */
  keepDay: string;
  retentionDays: number;
  log: Logger;
  writeCheckpoint(details: Record<string, unknown>): Promise<void>;
}

/**
 * Deletes expired files, but first writes a signed checkpoint naming the last
 * deleted entry; verify accepts a log that starts right after it.
 */
export async function enforceRetention(opts: RetentionOptions): Promise<void> {
  const files = await listAuditFiles(opts.dir);
  const expired = files.filter((f) => f.day <= opts.cutoffDay && f.day < opts.keepDay);
  if (expired.length === 0) return;
  let last: AuditEntry | undefined;
  let lastFile: AuditFile | undefined;
  for (let i = expired.length - 1; i >= 0 && !last; i--) {
    const f = expired[i]!;
    const line = f.gz ? await lastLineOfGz(f) : await lastLineOfPlain(f, opts.log);
    last = line !== undefined ? parseEntry(line) : undefined;
    lastFile = f;
  }
  if (last && lastFile) {
    await opts.writeCheckpoint({
      retention_days: opts.retentionDays,
      deleted_files: expired.map((f) => f.name),
      last_deleted_file: lastFile.base,
      last_deleted_seq: last.seq,
      last_deleted_mac: last.mac,
    });
  }
  for (const f of expired) {
    await unlink(f.path);
    // A stale plain copy of a compressed day goes too.
    if (f.gz) await unlink(f.path.slice(0, -3)).catch(() => {});
    else await stat(`${f.path}.gz`).then(() => unlink(`${f.path}.gz`), () => {});
  }
  fsyncDir(opts.dir);
  opts.log.info({ files: expired.map((f) => f.name) }, 'deleted expired audit files after writing a checkpoint');
}
