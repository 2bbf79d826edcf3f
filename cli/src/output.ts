// User-facing output. The CLI is the one place console output is allowed.
// Text from agents (actions, event messages) is escaped before it reaches the
// terminal (common/src/display.ts); JSON output carries it verbatim.
import { escapeForDisplay } from '../../common/src/display.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** One JSON object per line (streams: events, logs, audit tail). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function printLine(line = ''): void {
  process.stdout.write(line + '\n');
}

/**
 * For a followed stream: say on stderr that its connection was lost and is being re-established
 * (it resumes where it was), instead of sitting silent through the tries. Nothing in JSON mode.
 */
export function reconnectNotice(json: boolean): ((r: { attempt: number; of: number; delay_ms: number; error: unknown }) => void) | undefined {
  if (json) return undefined;
  return (r) => {
    const why = r.error instanceof Error ? escapeForDisplay(r.error.message) : 'connection lost';
    const of = Number.isFinite(r.of) ? ` of ${r.of}` : '';
    process.stderr.write(`loki: the stream was cut (${why}); reconnecting in ${(r.delay_ms / 1000).toFixed(1)} s (try ${r.attempt}${of})\n`);
  };
}

/** Left-aligned table with a header row; columns sized to content. Cells are escaped, except columns the caller already escaped. */
export function printTable(headers: string[], rows: string[][], o: { escaped?: number[] } = {}): void {
  const safe = rows.map((r) => r.map((c, i) => (o.escaped?.includes(i) ? c : escapeForDisplay(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  printLine(fmt(headers));
  for (const r of safe) printLine(fmt(r));
}

export function formatTime(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '' || value === 0) return '-';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** 93784 → "1d 2h 3m"; 59 → "59s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

export { formatBytes } from '../../common/src/display.js';

/** A relative age from now: "3m ago", "in 4m 10s". */
export function formatAge(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = Math.round((now - t) / 1000);
  return diff >= 0 ? `${formatDuration(diff)} ago` : `in ${formatDuration(-diff)}`;
}

/** Ctrl-C: 128 + SIGINT, as shells expect. `loki up` replaces it to stop its children first. */
export function onInterrupt(): void {
  process.exit(130);
}

/**
 * For the `loki` process only (not for runCli inside tests): quiet on a closed
 * pipe (`loki … | head -3`: the reader has what it wanted; a stack trace would
 * be noise) and exit 130 on Ctrl-C.
 */
export function installProcessHandlers(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  process.on('SIGINT', onInterrupt);
}
