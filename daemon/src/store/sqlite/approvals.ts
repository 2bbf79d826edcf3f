// ApprovalRepo on SQLite: the `approvals` table. State changes are guarded
// UPDATEs (status still pending, approvers list unchanged) so two deciders
// racing on one request cannot both win.
import type { Statement } from 'better-sqlite3';
import type { Approval, ApprovalRepo, ApprovalStatus } from '../../policy/approvals.js';
import type { Db } from '../db.js';

interface Row {
  id: string;
  session_id: string;
  action_kind: string;
  normalized: string;
  command: string;
  action_hash: string;
  asked_by: string;
  reason: string;
  requested_at: number;
  expires_at: number;
  status: ApprovalStatus;
  decided_by: string;
  decided_at: number;
  comment: string;
  consumed_at: number;
  consumed_by: string;
  approvals_required: number;
  distinct_from_starter: number;
  approvers: string;
}

function parseApprovers(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function fromRow(r: Row): Approval {
  return {
    id: r.id,
    sessionId: r.session_id,
    actionKind: r.action_kind,
    normalized: r.normalized,
    command: r.command ?? '',
    actionHash: r.action_hash,
    askedBy: r.asked_by,
    reason: r.reason,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    status: r.status,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    comment: r.comment,
    consumedAt: r.consumed_at,
    consumedBy: r.consumed_by ?? '',
    approvalsRequired: r.approvals_required ?? 1,
    distinctFromStarter: r.distinct_from_starter === 1,
    approvers: parseApprovers(r.approvers ?? '[]'),
  };
}

export class SqliteApprovalRepo implements ApprovalRepo {
  private readonly q: Record<'get' | 'pendingFor' | 'countPending' | 'insert' | 'due' | 'addApprover' | 'decide' | 'expire' | 'consume' | 'list' | 'byStatus' | 'bySession' | 'byBoth', Statement>;

  constructor(private readonly db: Db) {
    const list = (where: string) => db.prepare(`SELECT * FROM approvals ${where} ORDER BY requested_at, id`);
    this.q = {
      get: db.prepare('SELECT * FROM approvals WHERE id = ?'),
      pendingFor: db.prepare("SELECT * FROM approvals WHERE session_id = ? AND action_hash = ? AND status = 'pending'"),
      countPending: db.prepare("SELECT COUNT(*) AS n FROM approvals WHERE session_id = ? AND status = 'pending'"),
      insert: db.prepare(
        `INSERT INTO approvals (id, session_id, action_kind, normalized, command, action_hash, asked_by, reason, requested_at, expires_at, status, approvals_required, distinct_from_starter)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      ),
      due: db.prepare("SELECT * FROM approvals WHERE status = 'pending' AND expires_at <= ?"),
      addApprover: db.prepare("UPDATE approvals SET approvers = ?, comment = ? WHERE id = ? AND status = 'pending' AND approvers = ?"),
      decide: db.prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?, approvers = ? WHERE id = ? AND status = 'pending' AND approvers = ?"),
      expire: db.prepare("UPDATE approvals SET status = 'expired', decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'"),
      consume: db.prepare('UPDATE approvals SET consumed_at = ?, consumed_by = ? WHERE id = ? AND consumed_at = 0'),
      list: list(''),
      byStatus: list('WHERE status = ?'),
      bySession: list('WHERE session_id = ?'),
      byBoth: list('WHERE status = ? AND session_id = ?'),
    };
  }

  // Synchronous inside; `async` only to meet the (networked-store-ready) interface.
  async get(id: string): Promise<Approval | undefined> {
    const r = this.q.get.get(id) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  // One transaction, so the lookup, the limit and the insert cannot interleave with another writer.
  async insertUnlessPending(a: Approval, maxPending: number): Promise<{ existing: Approval } | { pending: number } | { inserted: true }> {
    return this.db.transaction((): { existing: Approval } | { pending: number } | { inserted: true } => {
      const r = this.q.pendingFor.get(a.sessionId, a.actionHash) as Row | undefined;
      if (r) return { existing: fromRow(r) };
      const pending = (this.q.countPending.get(a.sessionId) as { n: number }).n;
      if (pending >= maxPending) return { pending };
      this.q.insert.run(a.id, a.sessionId, a.actionKind, a.normalized, a.command, a.actionHash, a.askedBy, a.reason, a.requestedAt, a.expiresAt, a.approvalsRequired, a.distinctFromStarter ? 1 : 0);
      return { inserted: true };
    })();
  }

  async list(filter: { status?: ApprovalStatus | undefined; sessionId?: string | undefined }): Promise<Approval[]> {
    const { status, sessionId } = filter;
    const rows = status && sessionId ? this.q.byBoth.all(status, sessionId) : status ? this.q.byStatus.all(status) : sessionId ? this.q.bySession.all(sessionId) : this.q.list.all();
    return (rows as Row[]).map(fromRow);
  }

  async due(now: number): Promise<Approval[]> {
    return (this.q.due.all(now) as Row[]).map(fromRow);
  }

  async addApprover(id: string, approvers: readonly string[], comment: string, seen: readonly string[]): Promise<boolean> {
    return this.q.addApprover.run(JSON.stringify(approvers), comment, id, JSON.stringify(seen)).changes === 1;
  }

  async decide(id: string, d: { status: ApprovalStatus; by: string; at: number; comment: string; approvers: readonly string[] }, seen: readonly string[]): Promise<boolean> {
    return this.q.decide.run(d.status, d.by, d.at, d.comment, JSON.stringify(d.approvers), id, JSON.stringify(seen)).changes === 1;
  }

  async expire(id: string, by: string, at: number): Promise<boolean> {
    return this.q.expire.run(by, at, id).changes === 1;
  }

  async consume(id: string, at: number, by: string): Promise<boolean> {
    return this.q.consume.run(at, by, id).changes === 1;
  }
}
