// `loki approvals list|show|approve|reject`: the human side of `ask`. The
// daemon records the authenticated caller as the approver; nothing here can
// name one. The action comes from an untrusted agent: it is shown escaped
// (control, bidi and zero-width characters made visible) and whole wherever
// someone decides on it; the list shortens it only with a marker saying so.
import type { Command } from 'commander';
import { APPROVAL_STATUSES, LokiError, escapeForDisplay, hasHiddenCharacters, shortenForDisplay } from '../../../common/src/index.js';
import type { Approval, LokiClient } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { resolveId } from '../ids.js';
import { formatAge, formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

const STATUSES: readonly string[] = APPROVAL_STATUSES;
const LIST_ACTION_WIDTH = 80;

async function approvalId(c: LokiClient, id: string): Promise<string> {
  return resolveId('approval', id, async () => c.approvals.list({ status: 'all' }));
}

/** Every fact an approver needs, the action whole and escaped (docs/cli.md "Approvals"). */
export function printApproval(a: Approval, now = Date.now()): void {
  printLine(`Approval ${a.id}  ${a.status}`);
  printLine(`  session:   ${a.session_id}`);
  printLine(`  kind:      ${a.action_kind}`);
  printLine(`  rule:      ${escapeForDisplay(a.asked_by)}`);
  printLine(`  reason:    ${escapeForDisplay(a.reason)}`);
  printLine(`  asked:     ${formatTime(a.requested_at)} (${formatAge(a.requested_at, now)})`);
  printLine(`  expires:   ${formatTime(a.expires_at)} (${formatAge(a.expires_at, now)})`);
  printLine(`  hash:      ${a.action_hash}`);
  if (a.approvals_required > 1 || a.distinct_from_starter) {
    const who = a.approvers.length ? ` (${a.approvers.map((x) => escapeForDisplay(x)).join(', ')})` : '';
    printLine(`  approvals: ${a.approvers.length} of ${a.approvals_required}${who}${a.distinct_from_starter ? "; the session's starter may not approve" : ''}`);
  }
  if (a.decided_by) printLine(`  decided:   ${a.status} by ${escapeForDisplay(a.decided_by)} at ${formatTime(a.decided_at)}${a.comment ? `: ${escapeForDisplay(a.comment)}` : ''}`);
  if (a.used_at) printLine(`  used:      ${formatTime(a.used_at)}`);
  printLine('  action:');
  printLine(`    ${escapeForDisplay(a.action)}`);
  if (hasHiddenCharacters(a.action)) printLine('  warning:   the action contains control, bidi or invisible characters (shown above as \\x.. / \\u....)');
  // The policy's reading of a shell line, when it differs: a help, never what is decided on.
  if (a.normalized && a.normalized !== a.action) {
    printLine('  analysed as:');
    printLine(`    ${escapeForDisplay(a.normalized)}`);
  }
}

function decideCommand(parent: Command, ctx: CliContext, name: 'approve' | 'reject'): void {
  parent
    .command(name)
    .description(name === 'approve' ? 'let the exact pending action run once' : 'refuse the pending action')
    .argument('<id>', 'approval id (apr-…) or unique prefix')
    .option('--comment <text>', 'why (recorded with the decision)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { comment?: string; json?: boolean }) => {
      const a = await withClient(ctx, async (c) => {
        const full = await approvalId(c, id);
        return c.approvals[name](full, o.comment ? { comment: o.comment } : {});
      });
      if (jsonMode(ctx, o)) return printJson(a);
      // Echo exactly what was decided, whole, so the approver sees it once more.
      if (a.status === 'pending') {
        // A rule that needs several approvers: this approval is recorded, the action does not run yet.
        const who = a.approvers.map((x) => escapeForDisplay(x)).join(', ');
        const left = a.approvals_required - a.approvers.length;
        printLine(`${a.id} pending: ${a.approvers.length} of ${a.approvals_required} approvals (${who}); the action runs only after ${left} more`);
      } else {
        printLine(`${a.id} ${a.status} by ${a.decided_by ?? '?'}`);
      }
      printLine(`  hash:   ${a.action_hash}`);
      printLine(`  action: ${escapeForDisplay(a.action)}`);
    });
}

export function registerApprovalCommands(program: Command, ctx: CliContext): void {
  const approvals = program.command('approvals').description('list, show and decide actions waiting for a human');
  approvals
    .command('list')
    .alias('ls')
    .description('list approval requests (pending by default)')
    .option('--session <id>', 'only this session')
    .option('--status <status>', 'pending | approved | rejected | expired | all (default: pending)')
    .option('--json', 'print JSON')
    .action(async (o: { session?: string; status?: string; json?: boolean }) => {
      const status = o.status ?? 'pending';
      if (status !== 'all' && !STATUSES.includes(status)) throw new LokiError('invalid_argument', `--status must be one of ${STATUSES.join(', ')}, all`);
      const rows = await withClient(ctx, (c) => c.approvals.list({ ...(o.session ? { session_id: o.session } : {}), status: status as 'all' }));
      if (jsonMode(ctx, o)) return printJson({ approvals: rows });
      if (!rows.length) return printLine(status !== 'all' ? `no ${status} approvals` : 'no approvals');
      // shortenForDisplay escapes as it cuts, so that column is passed as already escaped.
      printTable(
        ['ID', 'SESSION', 'STATUS', 'EXPIRES', 'RULE', 'ACTION'],
        rows.map((a) => [a.id, a.session_id, a.status, formatTime(a.expires_at), a.asked_by, shortenForDisplay(a.action, LIST_ACTION_WIDTH)]),
        { escaped: [5] },
      );
      if (rows.some((a) => escapeForDisplay(a.action).length > LIST_ACTION_WIDTH)) printLine('\nactions marked "… [+N chars hidden]" are cut here only: `loki approvals show ID` prints them whole');
    });
  approvals
    .command('show')
    .description('one approval request: the whole action (escaped), its hash, rule, reason, age and expiry')
    .argument('<id>', 'approval id (apr-…) or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const a = await withClient(ctx, async (c) => c.approvals.get(await approvalId(c, id)));
      if (jsonMode(ctx, o)) return printJson(a);
      printApproval(a);
    });
  decideCommand(approvals, ctx, 'approve');
  decideCommand(approvals, ctx, 'reject');
}
