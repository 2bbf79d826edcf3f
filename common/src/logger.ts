import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

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

export function scrubSecrets(text: string): string {
  return text
    .replace(TOKEN_PATTERN, 'loki_[REDACTED]')
    .replace(BEARER_PATTERN, '$1[REDACTED]')
    .replace(QUERY_TOKEN_PATTERN, '$1[REDACTED]');
}

export interface LoggerFactoryOptions {
  level?: string;
  name: string;
  /** Human-readable output (for a TTY); JSON otherwise. */
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerFactoryOptions): Logger {
  const options: LoggerOptions = {
    name: opts.name,
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      streamWrite: (line) => scrubSecrets(line),
    },
  };
  if (opts.destination) return pino(options, opts.destination);
  if (opts.pretty) return pino(options, prettyStream());
  return pino(options, pino.destination({ fd: 2, sync: false }));
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
