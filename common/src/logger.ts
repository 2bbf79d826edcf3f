import { createRequire } from 'node:module';
import type { pino as Pino, Logger, LoggerOptions, DestinationStream } from 'pino';
import { stderrLogDestination } from './log-destination.js';

export type { Logger } from 'pino';

/** Paths pino redacts in every Loki log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-loki-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'token',
  'secret',
  'password',
  'apiKey',
  'api_key',
  '*.token',
  '*.secret',
  '*.password',
  '*.apiKey',
  '*.api_key',
  'credential',
  '*.credential',
  'req.headers["x-loki-credential"]',
];

// Loki tokens and bearer credentials that slip into free text (a URL, an error
// message) are masked before the line is written.
const TOKEN_PATTERN = /loki_[A-Za-z0-9_-]{20,}/g;
const BEARER_PATTERN = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
const QUERY_TOKEN_PATTERN = /([?&](?:token|access_token|id_token|code|api_key)=)[^&\s"]+/gi;

/**
 * Each pattern above needs one of these in the text: `loki_`, `bearer` (any case) or `=`.
 * Text without a match holds nothing scrubSecrets would mask; most lines have none, and
 * looking costs a fraction of the three replacements.
 */
export const SECRET_HINT = /loki_|bearer|=/i;

const BEARER_WORD = /bearer/i;

/** SECRET_HINT.test(text), faster on whole lines (two plain substring searches first). */
export function mayHoldSecret(text: string): boolean {
  return text.includes('loki_') || text.includes('=') || BEARER_WORD.test(text);
}

export function scrubSecrets(text: string): string {
  if (!mayHoldSecret(text)) return text;
  return text
    .replace(TOKEN_PATTERN, 'loki_[REDACTED]')
    .replace(BEARER_PATTERN, '$1[REDACTED]')
    .replace(QUERY_TOKEN_PATTERN, '$1[REDACTED]');
}

/**
 * pino's `isoTime` (`,"time":"2026-01-02T03:04:05.678Z"`), formatted once per millisecond
 * and with `toISOString` once per second: a busy gateway writes several lines in the same
 * millisecond, and `toISOString` is among the dearest steps of writing one. One clock per
 * logger (children share it).
 */
export function cachedIsoTime(now: () => number = Date.now): () => string {
  let ms = Number.NaN;
  let text = '';
  let second = Number.NaN;
  let head = '';
  return () => {
    const t = now();
    if (t !== ms) {
      ms = t;
      const s = Math.floor(t / 1000);
      // `…T03:04:05.` once per second; the milliseconds are three digits and `Z`.
      if (s !== second) {
        second = s;
        head = `,"time":"${new Date(t).toISOString().slice(0, -4)}`;
      }
      const m = t - s * 1000;
      text = `${head}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z"`;
    }
    return text;
  };
}

export interface LoggerFactoryOptions {
  level?: string;
  name: string;
  /** Human-readable output (for a TTY); JSON otherwise. */
  pretty?: boolean;
  destination?: DestinationStream;
}

/**
 * pino loads with the first logger, not with this module: everything that imports
 * common/ would otherwise pay for it at start, the CLI included, which logs nothing
 * (`loki --version`, docs/performance.md). require() caches the module.
 */
export function createLogger(opts: LoggerFactoryOptions): Logger {
  const { pino } = createRequire(import.meta.url)('pino') as { pino: typeof Pino };
  const options: LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: { pid: process.pid },
    timestamp: cachedIsoTime(),
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: scrubSecrets },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty) return pino(options, prettyStream());
  return pino(options, stderrLogDestination());
}

/** A small, dependency-free human format for terminals: `12:00:01 INFO component: msg key=value`. */
function prettyStream(): DestinationStream {
  return {
    write(line: string) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { time, level, msg, component, name, pid, hostname, ...rest } = o;
        void pid;
        void hostname;
        const t = typeof time === 'string' ? time.slice(11, 19) : '';
        const extra = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        process.stderr.write(
          `${t} ${String(level).toUpperCase().padEnd(5)} ${String(component ?? name ?? '')}: ${String(msg ?? '')}${extra ? ' ' + extra : ''}\n`,
        );
      } catch {
        process.stderr.write(line);
      }
    },
  };
}
