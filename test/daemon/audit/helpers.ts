// Shared test plumbing for the audit suite: temp dirs, a silent logger, a
// movable clock, and helpers that edit log files (plain or gzipped) the way an
// attacker with file access would.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { pino, type Logger } from 'pino';
import { FileAuditLog } from '../../../daemon/src/audit/sink.js';

export function tempDir(prefix = 'loki-audit-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A clock the test moves by hand. */
export function testClock(iso: string): { now: () => number; set: (iso: string) => void; advance: (ms: number) => void } {
  let t = Date.parse(iso);
  return { now: () => t, set: (s) => (t = Date.parse(s)), advance: (ms) => (t += ms) };
}

export function newKey(): Buffer {
  return randomBytes(32);
}

export async function openSink(dir: string, key: Buffer, now: () => number, extra: { retentionDays?: number; maxBatchDelayMs?: number } = {}): Promise<FileAuditLog> {
  return FileAuditLog.open({ dir, key, log: silentLogger(), now, maxBatchDelayMs: 0, maintenanceIntervalMs: 0, ...extra });
}

/** Lines of a log file (gunzipped when needed), without the trailing empty one. */
export function readLogLines(path: string): string[] {
  const raw = readFileSync(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return text.split('\n').filter((l) => l !== '');
}

export function writeLogLines(path: string, lines: string[]): void {
  const text = Buffer.from(lines.map((l) => l + '\n').join(''));
  writeFileSync(path, path.endsWith('.gz') ? gzipSync(text) : text);
}

export function event(action: string, i: number, extra: Record<string, unknown> = {}) {
  return { action, user: 'local:1000', resource: `session:s-${i}`, result: 'success' as const, details: { i }, ip: '127.0.0.1', request_id: `req-${i}`, ...extra };
}
