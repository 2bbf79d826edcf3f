// Approvals: the human half of an `ask`. Stored in the daemon's SQLite (never
// anywhere the agent can write), bound to one exact action hash, decided only
// by an authenticated subject, and denied when nobody answers in time.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { migrate, type Db, type Migration } from '../store/db.js';

import type { ApprovalStatus } from '../../../common/src/vocab.js';

export type { ApprovalStatus };

export interface Approval {
  id: string;
  sessionId: string;
  /** The action kind and its printable normalized form. */
  actionKind: string;
  normalized: string;
  actionHash: string;
  /** The rule or mode that asked (`default:git-force-push`, `mode:supervised`). */
  askedBy: string;
  reason: string;
  requestedAt: number;
  expiresAt: number;
  status: ApprovalStatus;
  decidedBy: string;
  decidedAt: number;
  comment: string;
  /** Set once an approved action has been let through (approvals are single-use). */
  consumedAt: number;
  /** Two-person rule: distinct approvals needed (1 = an ordinary approval). */
  approvalsRequired: number;
  /** The session's starter may not approve. */
  distinctFromStarter: boolean;
  /** Subjects who approved so far (the last one's approval completes it). */
  approvers: string[];
}

export interface ApprovalEvent {
  type: 'requested' | 'decided' | 'expired' | 'consumed';
  approval: Approval;
}

export const APPROVAL_MIGRATIONS: readonly Migration[] = [
  {
    module: 'approvals',
    version: 1,
    sql: `CREATE TABLE approvals (
      id TEXT PRIMARY KEY,
      session_id TEXT NOT NULL,
      action_kind TEXT NOT NULL,
      normalized TEXT NOT NULL,
      action_hash TEXT NOT NULL,
      asked_by TEXT NOT NULL,
      reason TEXT NOT NULL,
      requested_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','expired')),
      decided_by TEXT NOT NULL DEFAULT '',
      decided_at INTEGER NOT NULL DEFAULT 0,
      comment TEXT NOT NULL DEFAULT '',
      consumed_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX approvals_session ON approvals (session_id, status);
    CREATE INDEX approvals_pending ON approvals (status, expires_at);`,
  },
  {
    module: 'approvals',
    version: 2,
    sql: `ALTER TABLE approvals ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE approvals ADD COLUMN distinct_from_starter INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE approvals ADD COLUMN approvers TEXT NOT NULL DEFAULT '[]';`,
  },
];

interface Row {
  id: string;
  session_id: string;
  action_kind: string;
  normalized: string;
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
    approvalsRequired: r.approvals_required ?? 1,
    distinctFromStarter: r.distinct_from_starter === 1,
    approvers: parseApprovers(r.approvers ?? '[]'),
  };
}

export interface ApprovalStoreOptions {
  db: Db;
  log: Logger;
  /** Default lifetime of a request. */
  timeoutMs: number;
  /** What an unanswered request becomes; `deny` unless an operator chose otherwise. */
  onTimeout: 'deny' | 'allow';
  /** Refuse decisions by the session's owner. */
  fourEyes: boolean;
  /** Owner of a session (for four-eyes); undefined when unknown. */
  ownerOf: (sessionId: string) => string | undefined;
  /** Pending requests one session may hold; a runaway agent cannot flood the approvers. Default 100. */
  maxPendingPerSession?: number;
  /** Two-person rule by the id of the rule that asked (policy config `approvers`, `require_distinct_approver`). */
  requirementFor?: (askedBy: string) => { approvers: number; distinctFromStarter: boolean } | undefined;
  now?: () => number;
}

export interface ApprovalRequest {
  sessionId: string;
  actionKind: string;
  normalized: string;
  actionHash: string;
  askedBy: string;
  reason: string;
  timeoutMs?: number;
}

const MAX_COMMENT = 2000;

export class ApprovalStore {
  private readonly events = new EventEmitter();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly opts: ApprovalStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.events.setMaxListeners(0);
    migrate(opts.db, APPROVAL_MIGRATIONS);
    // Pending requests survive a restart: expire the overdue ones, re-arm the rest.
    this.expireDue();
    for (const a of this.list({ status: 'pending' })) this.arm(a);
  }

  /** Creates a pending request, or returns the pending one for the same session and action. */
  request(req: ApprovalRequest): Approval {
    this.expireDue();
    const existing = this.opts.db
      .prepare("SELECT * FROM approvals WHERE session_id = ? AND action_hash = ? AND status = 'pending'")
      .get(req.sessionId, req.actionHash) as Row | undefined;
    if (existing) return fromRow(existing);
    const limit = this.opts.maxPendingPerSession ?? 100;
    const pending = (this.opts.db.prepare("SELECT COUNT(*) AS n FROM approvals WHERE session_id = ? AND status = 'pending'").get(req.sessionId) as { n: number }).n;
    if (pending >= limit) throw new LokiError('resource_exhausted', `session ${req.sessionId} already has ${pending} pending approvals; wait for them to be decided`);
    const now = this.now();
    const need = this.opts.requirementFor?.(req.askedBy);
    const a: Approval = {
      id: `apr-${randomUUID()}`,
      sessionId: req.sessionId,
      actionKind: req.actionKind,
      normalized: req.normalized.slice(0, 4000),
      actionHash: req.actionHash,
      askedBy: req.askedBy,
      reason: req.reason.slice(0, 2000),
      requestedAt: now,
      expiresAt: now + (req.timeoutMs ?? this.opts.timeoutMs),
      status: 'pending',
      decidedBy: '',
      decidedAt: 0,
      comment: '',
      consumedAt: 0,
      approvalsRequired: Math.max(1, need?.approvers ?? 1),
      distinctFromStarter: need?.distinctFromStarter ?? false,
      approvers: [],
    };
    this.opts.db
      .prepare(
        `INSERT INTO approvals (id, session_id, action_kind, normalized, action_hash, asked_by, reason, requested_at, expires_at, status, approvals_required, distinct_from_starter)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(a.id, a.sessionId, a.actionKind, a.normalized, a.actionHash, a.askedBy, a.reason, a.requestedAt, a.expiresAt, a.approvalsRequired, a.distinctFromStarter ? 1 : 0);
    this.arm(a);
    this.emit({ type: 'requested', approval: a });
    return a;
  }

  get(id: string): Approval {
    const row = this.opts.db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new LokiError('approval_not_found', `no approval with id ${JSON.stringify(id)}`);
    return fromRow(row);
  }

  list(filter: { status?: ApprovalStatus | undefined; sessionId?: string | undefined } = {}): Approval[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.status) {
      where.push('status = ?');
      args.push(filter.status);
    }
    if (filter.sessionId) {
      where.push('session_id = ?');
      args.push(filter.sessionId);
    }
    const sql = `SELECT * FROM approvals ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY requested_at, id`;
    return (this.opts.db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  /** Records a human decision. The subject comes from the authenticated caller, never from the request body. */
  decide(id: string, d: { approve: boolean; subject: string; comment?: string }): Approval {
    this.expireDue();
    const a = this.get(id);
    if (a.status === 'expired') throw new LokiError('approval_expired', `approval ${id} expired at ${new Date(a.expiresAt).toISOString()} and was ${this.opts.onTimeout === 'deny' ? 'denied' : 'allowed'}`);
    if (a.status !== 'pending') throw new LokiError('approval_decided', `approval ${id} was already ${a.status} by ${a.decidedBy}`);
    if (!d.subject) throw new LokiError('unauthenticated', 'an approval decision needs an authenticated subject');
    if (this.opts.fourEyes) {
      const owner = this.opts.ownerOf(a.sessionId);
      if (owner === undefined || owner === d.subject) {
        throw new LokiError('four_eyes_required', owner === undefined ? `four-eyes approval is required and the owner of session ${a.sessionId} is unknown` : `four-eyes approval is required: ${d.subject} owns session ${a.sessionId} and cannot approve its actions`);
      }
    }
    if (d.approve && (a.distinctFromStarter || a.approvalsRequired > 1)) {
      // The rule's own requirement, enforced here whatever the daemon-wide four-eyes setting says.
      const owner = this.opts.ownerOf(a.sessionId);
      if (a.distinctFromStarter && (owner === undefined || owner === d.subject)) {
        throw new LokiError('four_eyes_required', `rule ${a.askedBy} requires an approver other than the session's starter${owner === undefined ? ' (the starter is unknown)' : `: ${d.subject} started session ${a.sessionId}`}`);
      }
      if (a.approvers.includes(d.subject)) {
        throw new LokiError('four_eyes_required', `${d.subject} already approved ${id}; rule ${a.askedBy} needs ${a.approvalsRequired} distinct approvers`);
      }
    }
    const comment = (d.comment ?? '').slice(0, MAX_COMMENT);
    const now = this.now();
    if (d.approve && a.approvers.length + 1 < a.approvalsRequired) {
      // Not enough people yet: record this approver and stay pending. Compare-and-set on the list so two
      // approvals arriving together cannot both count as the first.
      const approvers = [...a.approvers, d.subject];
      const changed = this.opts.db
        .prepare("UPDATE approvals SET approvers = ?, comment = ? WHERE id = ? AND status = 'pending' AND approvers = ?")
        .run(JSON.stringify(approvers), comment, id, JSON.stringify(a.approvers)).changes;
      if (changed !== 1) throw new LokiError('approval_decided', `approval ${id} changed concurrently; look again and retry`);
      const out = { ...a, approvers, comment };
      this.opts.log.info({ approval_id: id, approver: d.subject, of: a.approvalsRequired }, 'approval recorded; more approvers needed');
      this.emit({ type: 'requested', approval: out });
      return out;
    }
    const status: ApprovalStatus = d.approve ? 'approved' : 'rejected';
    const changed = this.opts.db
      .prepare("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?, approvers = ? WHERE id = ? AND status = 'pending' AND approvers = ?")
      .run(status, d.subject, now, comment, JSON.stringify(d.approve ? [...a.approvers, d.subject] : a.approvers), id, JSON.stringify(a.approvers)).changes;
    if (changed !== 1) throw new LokiError('approval_decided', `approval ${id} was decided concurrently`);
    this.disarm(id);
    const out = { ...a, status, decidedBy: d.subject, decidedAt: now, comment, approvers: d.approve ? [...a.approvers, d.subject] : a.approvers };
    this.emit({ type: 'decided', approval: out });
    return out;
  }

  /**
   * Lets an approved action through exactly once. The action must hash to the
   * approved hash within the same session; anything else is refused.
   */
  consume(id: string, sessionId: string, actionHash: string): Approval {
    this.expireDue();
    const a = this.get(id);
    if (a.sessionId !== sessionId || a.actionHash !== actionHash) {
      throw new LokiError('approval_mismatch', `approval ${id} was granted for a different action ("${a.normalized}"); request a new approval`);
    }
    const allowedByTimeout = a.status === 'expired' && this.opts.onTimeout === 'allow';
    if (a.status !== 'approved' && !allowedByTimeout) {
      throw new LokiError('approval_not_granted', `approval ${id} is ${a.status}${a.status === 'expired' ? ' (timed out: denied)' : ''}`);
    }
    if (a.consumedAt) throw new LokiError('approval_decided', `approval ${id} was already used at ${new Date(a.consumedAt).toISOString()}`);
    const now = this.now();
    this.opts.db.prepare('UPDATE approvals SET consumed_at = ? WHERE id = ? AND consumed_at = 0').run(now, id);
    const out = { ...a, consumedAt: now };
    this.emit({ type: 'consumed', approval: out });
    return out;
  }

  /** Marks overdue pending requests expired; returns how many. */
  expireDue(): number {
    const now = this.now();
    const due = this.opts.db.prepare("SELECT * FROM approvals WHERE status = 'pending' AND expires_at <= ?").all(now) as Row[];
    for (const r of due) this.expireOne(fromRow(r));
    return due.length;
  }

  private expireOne(a: Approval): void {
    const changed = this.opts.db.prepare("UPDATE approvals SET status = 'expired', decided_by = 'system:timeout', decided_at = ? WHERE id = ? AND status = 'pending'").run(this.now(), a.id).changes;
    this.disarm(a.id);
    if (changed === 1) {
      this.opts.log.info({ approval_id: a.id, session_id: a.sessionId, on_timeout: this.opts.onTimeout }, 'approval timed out');
      this.emit({ type: 'expired', approval: { ...a, status: 'expired', decidedBy: 'system:timeout', decidedAt: this.now() } });
    }
  }

  /** Resolves once the approval is no longer pending (decided or expired), or rejects when `signal` aborts. */
  waitForDecision(id: string, signal?: AbortSignal): Promise<Approval> {
    const a = this.get(id);
    if (a.status !== 'pending') return Promise.resolve(a);
    return new Promise((resolve, reject) => {
      const onEvent = (e: ApprovalEvent) => {
        if (e.approval.id !== id || e.type === 'requested' || e.type === 'consumed') return;
        cleanup();
        resolve(e.approval);
      };
      const onAbort = () => {
        cleanup();
        reject(new LokiError('unavailable', 'stopped waiting for the approval'));
      };
      const cleanup = () => {
        this.events.off('change', onEvent);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      this.events.on('change', onEvent);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Subscribes to approval changes; returns the unsubscribe function. */
  subscribe(fn: (e: ApprovalEvent) => void): () => void {
    this.events.on('change', fn);
    return () => this.events.off('change', fn);
  }

  /** Effective decision of a finished approval (timeouts count as `onTimeout`). */
  outcome(a: Approval): 'allow' | 'deny' | 'pending' {
    if (a.status === 'pending') return 'pending';
    if (a.status === 'approved') return 'allow';
    if (a.status === 'expired') return this.opts.onTimeout;
    return 'deny';
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.events.removeAllListeners();
  }

  private arm(a: Approval): void {
    if (this.closed) return;
    this.disarm(a.id);
    // setTimeout caps at ~24.8 days; the configured maximum is 7 days.
    const t = setTimeout(() => this.expireOne(a), Math.max(0, a.expiresAt - this.now()));
    t.unref();
    this.timers.set(a.id, t);
  }

  private disarm(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private emit(e: ApprovalEvent): void {
    this.events.emit('change', e);
  }
}
