// The on-disk audit entry: Loki Mode's fields plus result, seq and the HMAC
// chain. Everything that decides what an entry *means* (canonical bytes, MAC,
// file names, input limits) lives here so the writer and the verifier cannot
// drift apart.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LokiError } from '../../../common/src/index.js';
import type { AuditEventInput, AuditResult } from './types.js';

export interface AuditEntry {
  timestamp: string;
  action: string;
  user: string;
  resource: string;
  details: Record<string, unknown>;
  ip: string;
  result: AuditResult;
  reason?: string;
  request_id: string;
  seq: number;
  /** MAC of the previous entry in the chain (GENESIS_PREV for the very first). */
  prev: string;
  /** Only on a file's first entry: the previous file's name ('' when there is none). */
  prev_file?: string;
  mac: string;
}

export type UnsignedEntry = Omit<AuditEntry, 'mac'>;

/** `prev` of the first entry ever written. */
export const GENESIS_PREV = '0'.repeat(64);

export const CHECKPOINT_ACTION = 'audit.checkpoint';

export const ACTION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
export const LIMITS = { action: 64, user: 256, resource: 512, ip: 64, reason: 1024, requestId: 128, detailsBytes: 8192 } as const;

export const AUDIT_RESULTS: readonly AuditResult[] = ['success', 'denied', 'error'];

const FILE_PATTERN = /^audit-(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$/;

/** UTC day of a timestamp, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function fileNameForDay(day: string): string {
  return `audit-${day}.jsonl`;
}

/** Parses `audit-YYYY-MM-DD.jsonl[.gz]`; the chain names files by their uncompressed name. */
export function parseFileName(name: string): { day: string; base: string; gz: boolean } | undefined {
  const m = FILE_PATTERN.exec(name);
  if (!m) return undefined;
  return { day: m[1]!, base: fileNameForDay(m[1]!), gz: m[2] !== undefined };
}

/**
 * Canonical JSON: object keys sorted at every depth, no whitespace. The MAC is
 * computed over these bytes so that re-serialisation by a reader (or a
 * different key order) can never change what was signed.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** HMAC-SHA256 over the canonical entry without its `mac`; `prev` is inside, so the MAC binds the chain. */
export function computeMac(key: Buffer, entry: UnsignedEntry): string {
  return createHmac('sha256', key).update(canonicalJson(entry)).digest('hex');
}

export function signEntry(key: Buffer, entry: UnsignedEntry): AuditEntry {
  return { ...entry, mac: computeMac(key, entry) };
}

export function macMatches(key: Buffer, entry: AuditEntry): boolean {
  if (typeof entry.mac !== 'string' || !/^[0-9a-f]{64}$/.test(entry.mac)) return false;
  const { mac, ...rest } = entry;
  const expected = Buffer.from(computeMac(key, rest), 'hex');
  return timingSafeEqual(expected, Buffer.from(mac, 'hex'));
}

/** Serialises an entry as one JSONL line in Loki Mode's field order (readers that do not know the chain still see the familiar shape). */
export function entryLine(e: AuditEntry): string {
  const ordered: Record<string, unknown> = {
    timestamp: e.timestamp,
    action: e.action,
    user: e.user,
    resource: e.resource,
    details: e.details,
    ip: e.ip,
    result: e.result,
    reason: e.reason,
    request_id: e.request_id,
    seq: e.seq,
    prev: e.prev,
    prev_file: e.prev_file,
    mac: e.mac,
  };
  return JSON.stringify(ordered) + '\n';
}

/** Parses one line; undefined when it is not an object with the entry's basic shape. */
export function parseEntry(line: string): AuditEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const e = v as Partial<AuditEntry>;
  if (typeof e.seq !== 'number' || typeof e.action !== 'string' || typeof e.timestamp !== 'string') return undefined;
  if (typeof e.prev !== 'string' || typeof e.mac !== 'string') return undefined;
  return e as AuditEntry;
}

function bounded(field: string, value: string | undefined, max: number, required: boolean): string {
  if (value === undefined || value === '') {
    if (required) throw new LokiError('invalid_argument', `audit event: "${field}" is required`);
    return '';
  }
  if (typeof value !== 'string') throw new LokiError('invalid_argument', `audit event: "${field}" must be a string`);
  if (value.length > max) throw new LokiError('invalid_argument', `audit event: "${field}" is longer than ${max} characters`);
  // Control characters would let a value forge a second line in text views and syslog.
  if (/[\x00-\x1f\x7f]/.test(value)) throw new LokiError('invalid_argument', `audit event: "${field}" contains control characters`);
  return value;
}

/** `text` cut to at most `max` characters, saying how much was left out (never inside a surrogate pair). */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = (n: number) => ` … [+${n} chars]`;
  let keep = Math.max(0, max - marker(text.length).length);
  const c = text.charCodeAt(keep - 1);
  if (c >= 0xd800 && c <= 0xdbff) keep -= 1;
  return text.slice(0, keep) + marker(text.length - keep);
}

/** The JSON size of details (what validateEvent measures). */
function detailsBytes(d: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(d));
}

/**
 * An event the daemon writes about agent-controlled text (a command, a path, a decision's
 * reason), made to fit the log's limits instead of being refused by them: a refused record
 * would leave the action unaudited, and an agent could pick such text on purpose (a denied
 * command padded past 1,024 characters, or with a control character in it). The reason's
 * control characters become `\xNN` and it is cut to its limit; the longest string values
 * of the details are halved until they fit. Every cut says how much it left out; the
 * action hash in the details still names the exact action. The resource is fitted like the reason.
 */
export function fitEvent(ev: AuditEventInput): AuditEventInput {
  let out = ev;
  const visible = (text: string) => text.replace(/[\x00-\x1f\x7f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (typeof ev.reason === 'string') {
    const reason = cut(visible(ev.reason), LIMITS.reason);
    if (reason !== ev.reason) out = { ...out, reason };
  }
  // A resource can name caller-chosen text too (a project's path or name): the same treatment.
  if (typeof ev.resource === 'string') {
    const resource = cut(visible(ev.resource), LIMITS.resource);
    if (resource !== ev.resource) out = { ...out, resource };
  }
  const details = ev.details;
  if (details && typeof details === 'object' && !Array.isArray(details) && detailsBytes(details) > LIMITS.detailsBytes) {
    const fitted: Record<string, unknown> = { ...details };
    const original = new Map<string, string>();
    for (let round = 0; round < 64 && detailsBytes(fitted) > LIMITS.detailsBytes; round++) {
      let key: string | undefined;
      let longest = 0;
      for (const [k, v] of Object.entries(fitted)) {
        if (typeof v !== 'string') continue;
        const n = Buffer.byteLength(JSON.stringify(v));
        if (n > longest) [key, longest] = [k, n];
      }
      if (key === undefined || longest <= 64) break;
      const whole = original.get(key) ?? (fitted[key] as string);
      original.set(key, whole);
      const now = fitted[key] as string;
      fitted[key] = cut(whole, Math.max(16, Math.floor(Math.min(now.length, whole.length) / 2)));
    }
    out = { ...out, details: fitted };
  }
  return out;
}

export interface ValidatedEvent {
  action: string;
  user: string;
  resource: string;
  details: Record<string, unknown>;
  ip: string;
  result: AuditResult;
  reason?: string;
  request_id: string;
}

/** Checks an event before it is queued; throws LokiError(invalid_argument) naming the bad field. */
export function validateEvent(ev: AuditEventInput): ValidatedEvent {
  if (!ev || typeof ev !== 'object') throw new LokiError('invalid_argument', 'audit event must be an object');
  const action = bounded('action', ev.action, LIMITS.action, true);
  if (!ACTION_PATTERN.test(action)) {
    throw new LokiError('invalid_argument', `audit event: action "${action}" must look like "area.verb" (lowercase, dot-separated)`);
  }
  if (!AUDIT_RESULTS.includes(ev.result)) {
    throw new LokiError('invalid_argument', `audit event: result must be one of ${AUDIT_RESULTS.join(', ')}`);
  }
  const reason = bounded('reason', ev.reason, LIMITS.reason, false);
  if (ev.result !== 'success' && reason === '') {
    throw new LokiError('invalid_argument', `audit event: a "${ev.result}" result needs a reason`);
  }
  let details: Record<string, unknown> = {};
  if (ev.details !== undefined) {
    if (!ev.details || typeof ev.details !== 'object' || Array.isArray(ev.details)) {
      throw new LokiError('invalid_argument', 'audit event: details must be an object');
    }
    let json: string;
    try {
      json = JSON.stringify(ev.details);
    } catch {
      throw new LokiError('invalid_argument', 'audit event: details must be JSON-serialisable');
    }
    if (Buffer.byteLength(json) > LIMITS.detailsBytes) {
      throw new LokiError('invalid_argument', `audit event: details are larger than ${LIMITS.detailsBytes} bytes`);
    }
    // A JSON round trip drops undefined/functions so what is signed is what is read back.
    details = JSON.parse(json) as Record<string, unknown>;
  }
  return {
    action,
    user: bounded('user', ev.user, LIMITS.user, true),
    resource: bounded('resource', ev.resource, LIMITS.resource, false),
    details,
    ip: bounded('ip', ev.ip, LIMITS.ip, false),
    result: ev.result,
    ...(reason ? { reason } : {}),
    request_id: bounded('request_id', ev.request_id, LIMITS.requestId, false),
  };
}
