// Walks the whole chain oldest → newest and reports the FIRST entry that does
// not check out. What it proves: every entry present was written by the holder
// of the key, in this order, with nothing removed or inserted between the
// oldest present entry and the newest one; the oldest present entry is either
// the genesis entry or is vouched for by a signed retention checkpoint.
// What it cannot prove on its own: that the newest entries were not cut off
// (compare lastSeq/lastMac with the SIEM copy for that).
import { listAuditFiles, readLines } from './files.js';
import { CHECKPOINT_ACTION, GENESIS_PREV, macMatches, parseEntry, type AuditEntry } from './format.js';

export type VerifyResult =
  | { ok: true; entries: number; files: number; lastSeq: number; lastMac: string }
  | { ok: false; entries: number; files: number; file: string; line: number; seq: number; reason: string };

interface Anchor {
  file: string;
  seq: number;
  prev: string;
  prevFile: string;
}

interface Checkpoint {
  lastDeletedFile: string;
  lastDeletedSeq: number;
  lastDeletedMac: string;
}

function checkpointOf(e: AuditEntry): Checkpoint | undefined {
  if (e.action !== CHECKPOINT_ACTION) return undefined;
  const d = e.details;
  if (typeof d.last_deleted_file !== 'string' || typeof d.last_deleted_seq !== 'number' || typeof d.last_deleted_mac !== 'string') return undefined;
  return { lastDeletedFile: d.last_deleted_file, lastDeletedSeq: d.last_deleted_seq, lastDeletedMac: d.last_deleted_mac };
}

function anchored(a: Anchor, checkpoints: readonly Checkpoint[]): boolean {
  if (a.seq === 1 && a.prev === GENESIS_PREV && a.prevFile === '') return true;
  return checkpoints.some((c) => c.lastDeletedFile === a.prevFile && c.lastDeletedMac === a.prev && c.lastDeletedSeq + 1 === a.seq);
}

export async function verifyAuditLog(dir: string, key: Buffer): Promise<VerifyResult> {
  const files = await listAuditFiles(dir);
  let entries = 0;
  let anchor: Anchor | undefined;
  const checkpoints: Checkpoint[] = [];
  let last: { seq: number; mac: string; file: string } | undefined;
  const bad = (file: string, line: number, seq: number, reason: string): VerifyResult => ({
    ok: false,
    entries,
    files: files.length,
    file,
    line,
    seq,
    reason,
  });

  for (const [fi, file] of files.entries()) {
    const newest = fi === files.length - 1;
    let firstInFile = true;
    for await (const { line, lineNo, terminated } of readLines(file)) {
      // The daemon truncates an unterminated tail on restart: it was never acknowledged.
      if (!terminated && newest) break;
      const e = parseEntry(line);
      if (!e) return bad(file.name, lineNo, last ? last.seq + 1 : 0, 'not a valid audit entry (corrupted or edited)');
      if (!macMatches(key, e)) return bad(file.name, lineNo, e.seq, 'MAC mismatch: the entry was altered or not written by this daemon');
      if (firstInFile) {
        const prevFile = typeof e.prev_file === 'string' ? e.prev_file : undefined;
        if (prevFile === undefined) return bad(file.name, lineNo, e.seq, 'the first entry of the file does not name the previous file (entries were removed from its start)');
        if (last && prevFile !== last.file) {
          return bad(file.name, lineNo, e.seq, `the file follows ${last.file} but its first entry names ${prevFile || 'no file'} as the previous one (a file was deleted or files were reordered)`);
        }
      }
      if (!last) {
        anchor = { file: file.name, seq: e.seq, prev: e.prev, prevFile: e.prev_file ?? '' };
      } else {
        if (e.seq !== last.seq + 1) {
          return bad(file.name, lineNo, e.seq, `sequence ${e.seq} follows ${last.seq} (entries were deleted or reordered)`);
        }
        if (e.prev !== last.mac) return bad(file.name, lineNo, e.seq, 'prev does not match the previous entry (entries were deleted or reordered)');
      }
      const cp = checkpointOf(e);
      if (cp) checkpoints.push(cp);
      last = { seq: e.seq, mac: e.mac, file: file.base };
      entries++;
      firstInFile = false;
    }
  }
  if (anchor && !anchored(anchor, checkpoints)) {
    return bad(anchor.file, 1, anchor.seq, 'the log starts mid-chain: older entries are missing and no signed retention checkpoint covers them');
  }
  return { ok: true, entries, files: files.length, lastSeq: last?.seq ?? 0, lastMac: last?.mac ?? GENESIS_PREV };
}
