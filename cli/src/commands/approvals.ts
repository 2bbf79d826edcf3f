// `loki approvals list|approve|reject`: the human side of `ask`. The daemon
// records the authenticated caller as the approver; nothing here can name one.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import type { Approval } from '../../../proto/gen/loki/v1/policy.js';
import { call } from '../client.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';
import { withPolicy } from './policy.js';

const STATUSES = ['pending', 'approved', 'rejected', 'expired'];

export function approvalJson(a: Approval): Record<string, unknown> {
  const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
  return {
    id: a.id,
    session_id: a.sessionId,
    status: a.status,
    action: a.normalized,
    action_kind: a.actionKind,
    action_hash: a.actionHash,
    asked_by: a.askedBy,
    reason: a.reason,
    requested_at: iso(a.requestedAtMs),
    expires_at: iso(a.expiresAtMs),
    decided_by: a.decidedBy || null,
    decided_at: iso(a.decidedAtMs),
    comment: a.comment || null,
    used_at: iso(a.consumedAtMs),
  };
}

function decideCommand(parent: Command, ctx: CliContext, name: 'approve' | 'reject'): void {
  parent
    .command(name)
    .description(name === 'approve' ? 'let the exact pending action run once' : 'refuse the pending action')
    .argument('<id>', 'approval id (apr-…)')
    .option('--comment <text>', 'why (recorded with the decision)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { comment?: string; json?: boolean }) => {
      const res = await withPolicy(ctx, (conn, client) => call(conn, client.decideApproval.bind(client), { id, approve: name === 'approve', comment: o.comment ?? '' }));
      const a = res.approval;
      if (!a) throw new LokiError('internal', 'the daemon returned no approval');
      if (o.json) return printJson(approvalJson(a));
      printLine(`${a.id} ${a.status} by ${a.decidedBy}: ${a.normalized}`);
    });
}

export function registerApprovalCommands(program: Command, ctx: CliContext): void {
  const approvals = program.command('approvals').description('list and decide actions waiting for a human');
  approvals
    .command('list')
    .description('list approval requests (pending by default)')
    .option('--session <id>', 'only this session')
    .option('--status <status>', `pending | approved | rejected | expired | all (default: pending)`)
    .option('--json', 'print JSON')
    .action(async (o: { session?: string; status?: string; json?: boolean }) => {
      const status = o.status === 'all' ? '' : (o.status ?? 'pending');
      if (status && !STATUSES.includes(status)) throw new LokiError('invalid_argument', `--status must be one of ${STATUSES.join(', ')}, all`);
      const res = await withPolicy(ctx, (conn, client) => call(conn, client.listApprovals.bind(client), { sessionId: o.session ?? '', status }));
      if (o.json) return printJson(res.approvals.map(approvalJson));
      if (!res.approvals.length) return printLine(status ? `no ${status} approvals` : 'no approvals');
      printTable(
        ['ID', 'SESSION', 'STATUS', 'EXPIRES', 'ASKED BY', 'ACTION'],
        res.approvals.map((a) => [a.id, a.sessionId, a.status, formatTime(a.expiresAtMs), a.askedBy, a.normalized.length > 80 ? a.normalized.slice(0, 77) + '...' : a.normalized]),
      );
    });
  decideCommand(approvals, ctx, 'approve');
  decideCommand(approvals, ctx, 'reject');
}
