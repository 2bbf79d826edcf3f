// `loki enterprise audit summary|tail|verify`, backed by the daemon's
// AuditService on the admin socket.
import type { Command } from 'commander';
import { Metadata } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import { AuditServiceClient, type AuditEntry } from '../../../proto/gen/loki/v1/audit.js';
import { call, connectDaemon, fromServiceError } from '../client.js';
import { printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
// grpc-js status for a call we cancelled ourselves (Ctrl-C on --follow).
const CANCELLED = 1;

function parseLines(value: string): number {
  const n = Number(value);
  if (!/^\d{1,4}$/.test(value) || n < 1 || n > 1000) throw new LokiError('invalid_argument', `-n must be a number from 1 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

/** The entry as it is on disk, for --json (one JSON object per line). */
export function entryJson(e: AuditEntry): Record<string, unknown> {
  let details: unknown = {};
  try {
    details = JSON.parse(e.detailsJson || '{}');
  } catch {
    details = { unparsed: e.detailsJson };
  }
  return {
    timestamp: e.timestamp,
    action: e.action,
    user: e.user,
    resource: e.resource,
    details,
    ip: e.ip,
    result: e.result,
    ...(e.reason ? { reason: e.reason } : {}),
    request_id: e.requestId,
    seq: e.seq,
  };
}

export function entryText(e: AuditEntry): string {
  const reason = e.reason ? ` (${e.reason})` : '';
  return `${e.timestamp}  ${e.action.padEnd(18)} ${e.user.padEnd(22)} ${e.result.padEnd(7)} ${e.resource}${reason}`;
}

function sortedRows(counts: Record<string, number>): string[][] {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => [k, String(v)]);
}

export function registerAuditCommands(enterprise: Command, ctx: CliContext): void {
  const audit = enterprise.command('audit').description('the audit log: summary, tail, verify');

  audit
    .command('summary')
    .description('counts by action, user and result over a period')
    .option('--since <time>', 'start: a duration back from now (24h, 7d) or an ISO time', '24h')
    .option('--until <time>', 'end: a duration back from now or an ISO time (default: now)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { since: string; until?: string; json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const client = conn.get(AuditServiceClient);
        const s = await call(conn, client.summary.bind(client), { since: opts.since, until: opts.until ?? '' });
        if (opts.json) {
          printJson({ since: s.since, until: s.until, total: s.total, by_action: s.byAction, by_user: s.byUser, by_result: s.byResult });
          return;
        }
        printLine(`Audit summary ${s.since} .. ${s.until}: ${s.total} entries`);
        for (const [title, counts] of [['ACTION', s.byAction], ['USER', s.byUser], ['RESULT', s.byResult]] as const) {
          printLine();
          printTable([title, 'COUNT'], sortedRows(counts));
        }
      } finally {
        conn.close();
      }
    });

  audit
    .command('tail')
    .description('the newest entries; --follow keeps printing new ones')
    .option('--event <action>', 'only this action, e.g. auth.fail')
    .option('-f, --follow', 'keep streaming new entries (Ctrl-C to stop)')
    .option('-n, --lines <n>', 'how many existing entries to show first (1-1000)', '20')
    .option('--json', 'one JSON object per line')
    .action(async (opts: { event?: string; follow?: boolean; lines: string; json?: boolean }) => {
      if (opts.event !== undefined && !ACTION.test(opts.event)) {
        throw new LokiError('invalid_argument', `--event must be an action name like auth.fail, got ${JSON.stringify(opts.event)}`);
      }
      const last = parseLines(opts.lines);
      const conn = connectDaemon(ctx.globals());
      const client = conn.get(AuditServiceClient);
      const md: Metadata = conn.metadata();
      const stream = client.tail({ last, action: opts.event ?? '', follow: opts.follow === true }, md);
      const stop = () => stream.cancel();
      process.once('SIGINT', stop);
      try {
        await new Promise<void>((resolve, reject) => {
          stream.on('data', (e: AuditEntry) => printLine(opts.json ? JSON.stringify(entryJson(e)) : entryText(e)));
          stream.on('end', resolve);
          stream.on('error', (err: { code?: number }) => (err.code === CANCELLED ? resolve() : reject(fromServiceError(err, conn.socket))));
        });
      } finally {
        process.removeListener('SIGINT', stop);
        conn.close();
      }
    });

  audit
    .command('verify')
    .description('check the HMAC chain across every file; exits non-zero at the first bad entry')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const client = conn.get(AuditServiceClient);
        const r = await call(conn, client.verify.bind(client), {}, 10 * 60_000);
        if (opts.json) {
          printJson(
            r.ok
              ? { ok: true, entries: r.entries, files: r.files, last_seq: r.lastSeq, last_mac: r.lastMac }
              : { ok: false, entries: r.entries, files: r.files, file: r.file, line: r.line, seq: r.seq, reason: r.reason },
          );
        } else if (r.ok) {
          printLine(`OK: ${r.entries} entries in ${r.files} files verified (last seq ${r.lastSeq})`);
        } else {
          printLine(`FAILED: ${r.file} line ${r.line} (seq ${r.seq}): ${r.reason}`);
          printLine(`${r.entries} entries verified before it.`);
        }
        // Tampering is not a usage error; exit 1 like any failed check.
        if (!r.ok) process.exitCode = 1;
      } finally {
        conn.close();
      }
    });
}
