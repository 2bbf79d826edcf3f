// Approvals: the human half of an `ask`. Stored in the daemon's SQLite (never
// anywhere the agent can write), bound to one exact action hash, decided only
// by an authenticated subject, and denied when nobody answers in time. The
// SQLite implementation of ApprovalRepo is store/sqlite/approvals.ts.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LokiError, type Logger } from '../../../common/src/index.js';

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

/** Where approvals are kept. Every state change is a compare-and-set: false when someone else changed it first. */
export interface ApprovalRepo {
  get(id: string): Approval | undefined;
  /** The pending request of this session for this action. */
  pendingFor(sessionId: string, actionHash: string): Approval | undefined;
  countPending(sessionId: string): number;
  insert(a: Approval): void;
  /** Oldest first. */
  list(filter: { status?: ApprovalStatus | undefined; sessionId?: string | undefined }): Approval[];
  /** Pending requests whose time is up. */
  due(now: number): Approval[];
  /** Records one more approver of a pending request whose approvers are still `seen`. */
  addApprover(id: string, approvers: readonly string[], comment: string, seen: readonly string[]): boolean;
  /** Decides a pending request whose approvers are still `seen`. */
  decide(id: string, d: { status: ApprovalStatus; by: string; at: number; comment: string; approvers: readonly string[] }, seen: readonly string[]): boolean;
  /** Expires a pending request. */
  expire(id: string, by: string, at: number): boolean;
  /** Marks an approved request used, once. */
  consume(id: string, at: number): void;
}

export interface ApprovalStoreOptions {
  repo: ApprovalRepo;
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

export type ApprovalRequest = Pick<Approval, 'sessionId' | 'actionKind' | 'normalized' | 'actionHash' | 'askedBy' | 'reason'> & { timeoutMs?: number };

const MAX_COMMENT = 2000;

export class ApprovalStore {
  private readonly events = new EventEmitter();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly opts: ApprovalStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.events.setMaxListeners(0);
    // Pending requests survive a restart: expire the overdue ones, re-arm the rest.
    this.expireDue();
    for (const a of this.list({ status: 'pending' })) this.arm(a);
  }

  /** Creates a pending request, or returns the pending one for the same session and action. */
  request(req: ApprovalRequest): Approval {
    this.expireDue();
    const existing = this.opts.repo.pendingFor(req.sessionId, req.actionHash);
    if (existing) return existing;
    const limit = this.opts.maxPendingPerSession ?? 100;
    const pending = this.opts.repo.countPending(req.sessionId);
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
    this.opts.repo.insert(a);
    this.arm(a);
    this.emit({ type: 'requested', approval: a });
    return a;
  }

  get(id: string): Approval {
    const a = this.opts.repo.get(id);
    if (!a) throw new LokiError('approval_not_found', `no approval with id ${JSON.stringify(id)}`);
    return a;
  }

  list(filter: { status?: ApprovalStatus | undefined; sessionId?: string | undefined } = {}): Approval[] {
    return this.opts.repo.list(filter);
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
      if (!this.opts.repo.addApprover(id, approvers, comment, a.approvers)) throw new LokiError('approval_decided', `approval ${id} changed concurrently; look again and retry`);
      const out = { ...a, approvers, comment };
      this.opts.log.info({ approval_id: id, approver: d.subject, of: a.approvalsRequired }, 'approval recorded; more approvers needed');
      this.emit({ type: 'requested', approval: out });
      return out;
    }
    const status: ApprovalStatus = d.approve ? 'approved' : 'rejected';
    const approvers = d.approve ? [...a.approvers, d.subject] : a.approvers;
    if (!this.opts.repo.decide(id, { status, by: d.subject, at: now, comment, approvers }, a.approvers)) throw new LokiError('approval_decided', `approval ${id} was decided concurrently`);
    this.disarm(id);
    const out = { ...a, status, decidedBy: d.subject, decidedAt: now, comment, approvers };
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
    this.opts.repo.consume(id, now);
    const out = { ...a, consumedAt: now };
    this.emit({ type: 'consumed', approval: out });
    return out;
  }

  /** Marks overdue pending requests expired; returns how many. */
  expireDue(): number {
    const now = this.now();
    const due = this.opts.repo.due(now);
    for (const a of due) this.expireOne(a);
    return due.length;
  }

  private expireOne(a: Approval): void {
    const changed = this.opts.repo.expire(a.id, 'system:timeout', this.now());
    this.disarm(a.id);
    if (changed) {
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
