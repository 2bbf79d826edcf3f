// The request line (`request completed`, one per request) written by one
// precompiled serializer instead of pino's generic one. pino would walk an
// object of fields (typeof, serializers, redaction stringifiers per key) and
// prepend the same level, time and bindings; here the keys are fixed text, the
// values are escaped in place, and no object is built. The line is byte-for-byte
// what pino writes for the same fields through the same logger: its level label,
// its clock, its bindings (`pid`, `name`, `component`), its message key and its
// `streamWrite` hook (Loki's secret scrubber runs on the whole line, as on every line).
// Redaction paths match keys, and none of these keys is one (see REDACT_PATHS).
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { SECRET_HINT, scrubSecrets } from '../../../common/src/index.js';

// pino's own symbols (public as `pino.symbols`; `msgPrefixSym` is missing from its types).
const S = pino.symbols as typeof pino.symbols & { msgPrefixSym: symbol };

type PinoInternals = Record<symbol, unknown> & FastifyBaseLogger;

interface LineStream {
  write(line: string): unknown;
}

/** The values of one request line; undefined ones are left out, as pino does. */
export interface RequestLine {
  requestId: unknown;
  subject: unknown;
  method: string;
  route: string;
  url: string;
  status: number;
  durationMs: number;
  clientIp: string;
  sessionId: string | undefined;
}

export type RequestLineWriter = (line: RequestLine) => void;

/** A value as pino writes it: JSON (a non-finite number as null). */
function json(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  return JSON.stringify(v) ?? 'null';
}

/**
 * A duration as pino writes it (String(number)), faster for the usual value rounded to
 * hundredths: below 1e10 such a number's shortest decimal form is its integer part and at
 * most two decimals without trailing zeros, built here without the general float printer.
 */
function duration(ms: number): string {
  const h = Math.round(ms * 100);
  if (h / 100 !== ms || h < 0 || h >= 1e12) return json(ms);
  const i = Math.floor(h / 100);
  const f = h - i * 100;
  if (f === 0) return String(i);
  if (f % 10 === 0) return `${i}.${f / 10}`;
  return `${i}.${f < 10 ? '0' : ''}${f}`;
}

// A string that matches neither needs no escaping and holds nothing the secret scrubber masks,
// so it is written as is between quotes. JSON escapes `"`, `\`, control characters and lone
// surrogates; SECRET_HINT is what every scrubber pattern needs.
const NOT_PLAIN = new RegExp(`["\\\\\\u0000-\\u001f\\ud800-\\udfff]|${SECRET_HINT.source}`, SECRET_HINT.flags);

const plain = (v: unknown): v is string => typeof v === 'string' && !NOT_PLAIN.test(v);

const UNSEEN = Symbol('unseen');

/**
 * One field's text in the line, for the last value found plain. A subject, method, route or
 * client address repeats from line to line; a string equal to one found plain holds the same
 * text, so it is neither searched again nor joined to its key again (fewer pieces per line).
 */
class PlainPart {
  private value: unknown = UNSEEN;
  text = '';

  constructor(private readonly build: (v: string) => string) {}

  /** True when `v` is plain; `text` is then its part of the line. */
  take(v: unknown): boolean {
    if (v === this.value) return true;
    if (!plain(v)) return false;
    this.value = v;
    this.text = this.build(v);
    return true;
  }
}

/**
 * A writer of `msg` lines through `logger`, or undefined when the logger has a feature this
 * writer does not reproduce (a mixin, a nested key, a message prefix, a log formatter, a
 * multistream that wants metadata): then the caller logs through pino as usual.
 * `logger` must be the writer's own (its bindings are read once).
 */
export function requestLineWriter(logger: FastifyBaseLogger, msg: string): RequestLineWriter | undefined {
  const l = logger as PinoInternals;
  const stream = l[S.streamSym] as (LineStream & Record<symbol, unknown>) | undefined;
  const formatters = l[S.formattersSym] as { log?: unknown } | undefined;
  const lsCache = l[S.lsCacheSym] as Record<number, string> | undefined;
  const time = l[S.timeSym] as (() => string) | undefined;
  const hook = (l[S.hooksSym] as { streamWrite?: (s: string) => string } | undefined)?.streamWrite;
  const info = (logger as unknown as { levels?: { values: Record<string, number> } }).levels?.values.info;
  if (!stream || typeof stream.write !== 'function' || !lsCache || !time || info === undefined || lsCache[info] === undefined) return undefined;
  if (l[S.mixinSym] || l[S.nestedKeySym] || l[S.msgPrefixSym] || formatters?.log || stream[S.needsMetadataGsym] === true) return undefined;
  const head = lsCache[info];
  const bindings = l[S.chindingsSym] as string;
  const tail = `,${JSON.stringify(l[S.messageKeySym] ?? 'msg')}:${JSON.stringify(msg)}${(l[S.endSym] as string | undefined) ?? '}\n'}`;
  // Loki's scrubber (or none) may be skipped for a line of plain values when the fixed parts
  // are plain too (its time is digits and punctuation); any other hook always runs.
  const skippable = (hook === undefined || hook === scrubSecrets) && !SECRET_HINT.test(head + bindings + tail);
  const quotedTail = `"${tail}`;
  const enabled = logger as unknown as { isLevelEnabled(level: string): boolean };
  // Level, time and bindings as one string per millisecond (the clock returns the same
  // string within one): fewer pieces per line for V8 to join when the batch is written.
  let at = '';
  let prefix = '';
  const subjectPart = new PlainPart((v) => `,"subject":"${v}"`);
  const methodPart = new PlainPart((v) => `,"method":"${v}","route":"`);
  const routePart = new PlainPart((v) => `${v}","url":"`);
  const ipPart = new PlainPart((v) => `,"client_ip":"${v}`);
  return (r) => {
    if (!enabled.isLevelEnabled('info')) return;
    const { requestId, subject, method, route, url, clientIp, sessionId } = r;
    const t = time();
    if (t !== at) {
      at = t;
      prefix = head + t + bindings;
    }
    let s = prefix;
    if (
      skippable &&
      (requestId === undefined || plain(requestId)) &&
      (subject === undefined || subjectPart.take(subject)) &&
      methodPart.take(method) &&
      routePart.take(route) &&
      plain(url) &&
      ipPart.take(clientIp) &&
      (sessionId === undefined || plain(sessionId))
    ) {
      if (requestId !== undefined) s += ',"request_id":"' + requestId + '"';
      if (subject !== undefined) s += subjectPart.text;
      s += methodPart.text + routePart.text + url + '","status":' + json(r.status) + ',"duration_ms":' + duration(r.durationMs) + ipPart.text;
      stream.write(sessionId === undefined ? s + quotedTail : s + '","session_id":"' + sessionId + quotedTail);
      return;
    }
    if (requestId !== undefined) s += ',"request_id":' + json(requestId);
    if (subject !== undefined) s += ',"subject":' + json(subject);
    s += ',"method":' + json(method) + ',"route":' + json(route) + ',"url":' + json(url) + ',"status":' + json(r.status);
    s += ',"duration_ms":' + duration(r.durationMs);
    // A request whose socket is already gone has no address; pino leaves the key out.
    if (clientIp !== undefined) s += ',"client_ip":' + json(clientIp);
    if (sessionId !== undefined) s += ',"session_id":' + json(sessionId);
    s += tail;
    stream.write(hook ? hook(s) : s);
  };
}
