// Reads a plain audit file from its end, newest line first, so the newest page of
// a query costs the page, not the day (a day can hold millions of entries).
import { open } from 'node:fs/promises';
import type { AuditFile } from './files.js';

const CHUNK = 64 * 1024;

/**
 * Complete lines of a plain (not gzipped) file, last first. A final fragment
 * without its newline (a batch still being written, or a torn write) is skipped,
 * exactly as forward readers stop at it. Throws ENOENT when the day was
 * compressed after listing (the caller then reads the gzip forward).
 */
export async function* readLinesBackward(file: AuditFile): AsyncGenerator<string, void, undefined> {
  const fh = await open(file.path, 'r');
  try {
    let pos = (await fh.stat()).size;
    let carry: Buffer = Buffer.alloc(0);
    let first = true;
    while (pos > 0) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      let data = carry.length ? Buffer.concat([buf, carry]) : buf;
      if (first) {
        // Drop an unterminated tail (everything after the last newline), however long.
        const nl = data.lastIndexOf(0x0a);
        if (nl < 0) {
          carry = Buffer.alloc(0);
          continue;
        }
        first = false;
        data = data.subarray(0, nl + 1);
      }
      // data ends with "\n" (or is the carried start of a line); split into complete lines.
      let end = data.length;
      if (data[end - 1] === 0x0a) end -= 1;
      let i = data.lastIndexOf(0x0a, end - 1);
      while (i >= 0) {
        if (end > i + 1) yield data.toString('utf8', i + 1, end);
        end = i;
        i = end > 0 ? data.lastIndexOf(0x0a, end - 1) : -1;
      }
      carry = Buffer.from(data.subarray(0, end));
    }
    if (carry.length) yield carry.toString('utf8');
  } finally {
    await fh.close();
  }
}
