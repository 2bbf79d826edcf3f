// `loki enterprise audit summary|tail|verify`, through the LokiClient.
import type { Command } from 'commander';
import { LokiError, counted, escapeForDisplay } from '../../../common/src/index.js';
import type { AuditEntry } from '../../../client/src/index.js';
import { auditWhat } from '../../../client/src/audit-text.js';
import { withClient, type CliContext } from '../context.js';
import { printJson, printJsonLine, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

function parseLines(value: string): number {
  const n = Number(value);
  if (!/^\d{1,4}$/.test(value) || n < 1 || n > 1000) throw new LokiError('invalid_argument', `-n must be a number from 1 to 1000, got ${JSON.stringify(value)}`);
  return n;
}

/** `24h`, `7d` → an ISO time that far back; an ISO time as is (both transports take ISO). */
export function toIsoTime(value: string, flag: string, now = Date.now()): string {
  const m = /^(\d{1,6})([smhdw])$/.exec(value.trim());
  if (m) return new Date(now - Number(m[1]) * UNIT[m[2]!]! * 1000).toISOString();
  if (!Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new LokiError('invalid_argument', `${flag} must be a duration back from now (30m, 24h, 7d) or an ISO time, got ${JSON.stringify(value)}`);
}

export function entryText(e: AuditEntry): string {
  const reason = e.reason ? ` (${escapeForDisplay(e.reason)})` : '';
  const what = auditWhat(e);
  return `${e.timestamp}  ${e.action.padEnd(18)} ${escapeForDisplay(e.user).padEnd(22)} ${e.result.padEnd(7)} ${escapeForDisplay(e.resource)}${reason}${what ? `  ${what}` : ''}`;
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
      const range = { since: toIsoTime(opts.since, '--since'), ...(opts.until ? { until: toIsoTime(opts.until, '--until') } : {}) };
      const s = await withClient(ctx, (c) => c.audit.summary(range));
      if (jsonMode(ctx, opts)) return printJson(s);
      printLine(`Audit summary ${s.since} .. ${s.until}: ${counted(s.total, 'entry', 'entries')}`);
      for (const [title, counts] of [['ACTION', s.by_action], ['USER', s.by_user], ['RESULT', s.by_result]] as const) {
        printLine();
        printTable([title, 'COUNT'], sortedRows(counts));
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
      await withClient(ctx, async (c) => {
        let shown = 0;
        for await (const e of c.audit.tail({ last, ...(opts.event ? { action: opts.event } : {}), follow: opts.follow === true })) {
          shown++;
          if (jsonMode(ctx, opts)) printJsonLine(e);
          else printLine(entryText(e));
        }
        // Say so rather than print nothing (JSON lines stay empty: nothing to parse is the answer there).
        if (!shown && !jsonMode(ctx, opts)) printLine(opts.event ? `no ${opts.event} entries in the audit log` : 'the audit log has no entries yet');
      });
    });

  audit
    .command('verify')
    .description('check the HMAC chain across every file; exits non-zero at the first bad entry')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const r = await withClient(ctx, (c) => c.audit.verify());
      if (jsonMode(ctx, opts)) printJson(r);
      else if (r.ok) printLine(`OK: ${counted(r.entries, 'entry', 'entries')} in ${counted(r.files, 'file')} verified (last seq ${r.last_seq})`);
      else {
        printLine(`FAILED: ${r.file} line ${r.line} (seq ${r.seq}): ${r.reason}`);
        printLine(`${counted(r.entries, 'entry', 'entries')} verified before it.`);
      }
      // Tampering is not a usage error; exit 1 like any failed check.
      if (!r.ok) process.exitCode = 1;
    });
}
