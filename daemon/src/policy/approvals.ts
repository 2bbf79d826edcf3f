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
  /** The action kind and its printable normalized form (the policy's analysis). */
  actionKind: string;
  normalized: string;
  /**
   * A shell action exactly as it will run if approved (the action hash covers this text);
   * '' for other kinds. The analysis can leave out what it could not resolve (`| sh`).
   */
  command: string;
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
  /** What used it: the mark of the numbered Decide that did (see ApprovalStore.consume); '' otherwise. */
  consumedBy: string;
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

/**
 * Where approvals are kept (async: the seam a networked store plugs into). Every
 * state change is a compare-and-set: false when someone else changed it first.
 */
export interface ApprovalRepo {
  get(id: string): Promise<Approval | undefined>;
  /**
   * One transaction: the pending request of this session for this action if there
   * is one; else refuses when the session holds `maxPending` pending requests; else
   * inserts `a`. Two concurrent requests for one action cannot both insert.
   */
  insertUnlessPending(a: Approval, maxPending: number): Promise<{ existing: Approval } | { pending: number } | { inserted: true }>;
  /** Oldest first. */
  list(filter: { status?: ApprovalStatus | undefined; sessionId?: string | undefined }): Promise<Approval[]>;
  /** Pending requests whose time is up. */
  due(now: number): Promise<Approval[]>;
  /** Records one more approver of a pending request whose approvers are still `seen`. */
  addApprover(id: string, approvers: readonly string[], comment: string, seen: readonly string[]): Promise<boolean>;
  /** Decides a pending request whose approvers are still `seen`. */
  decide(id: string, d: { status: ApprovalStatus; by: string; at: number; comment: string; approvers: readonly string[] }, seen: readonly string[]): Promise<boolean>;
  /** Expires a pending request. */
  expire(id: string, by: string, at: number): Promise<boolean>;
  /** Marks an approved request used, once: false when it was already used. */
  consume(id: string, at: number, by: string): Promise<boolean>;
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
  ownerOf: (sessionId: string) => Promise<string | undefined>;
  /** Pending requests one session may hold; a runaway agent cannot flood the approvers. Default 100. */
  maxPendingPerSession?: number;
  /** Two-person rule by the id of the rule that asked (policy config `approvers`, `require_distinct_approver`). */
  requirementFor?: (askedBy: string) => { approvers: number; distinctFromStarter: boolean } | undefined;
  now?: () => number;
}

export type ApprovalRequest = Pick<Approval, 'sessionId' | 'actionKind' | 'normalized' | 'actionHash' | 'askedBy' | 'reason'> & { command?: string; timeoutMs?: number };

/** A command longer than this is kept in part, and says so (the policy never allows one that long without a human). */
export const MAX_APPROVAL_COMMAND = 64 * 1024;

function keptCommand(command: string): string {
  if (command.length <= MAX_APPROVAL_COMMAND) return command;
  return `${command.slice(0, MAX_APPROVAL_COMMAND)}\n… [the command is ${command.length} characters long; only the first ${MAX_APPROVAL_COMMAND} are kept here]`;
}

const MAX_COMMENT = 2000;

export class ApprovalStore {
  private readonly events = new EventEmitter();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => number;
  private closed = false;
  /** The restart pass below; every public operation waits for it, so none runs before it. */
  private readonly ready: Promise<void>;

  constructor(private readonly opts: ApprovalStoreOptions) {
    this.now = opts.now ?? Date.now;
    this.events.setMaxListeners(0);
    this.ready = this.restore();
    // Each caller awaits `ready` and sees its error; this only keeps it from being an unhandled rejection.
    this.ready.catch((err: unknown) => opts.log.error({ err }, 'approvals: could not re-arm pending requests'));
  }

  /** Pending requests survive a restart: expire the overdue ones, re-arm the rest. */
  private async restore(): Promise<void> {
    // Nobody was subscribed when this ran synchronously in the constructor: keep it unannounced.
    await this.expireDueNow(false);
    for (const a of await this.opts.repo.list({ status: 'pending' })) this.arm(a);
  }

  /** Creates a pending request, or returns the pending one for the same session and action. */
  async request(req: ApprovalRequest): Promise<Approval> {
    await this.expireDue();
    const limit = this.opts.maxPendingPerSession ?? 100;
    const now = this.now();
    const need = this.opts.requirementFor?.(req.askedBy);
    const a: Approval = {
      id: `apr-${randomUUID()}`,
      sessionId: req.sessionId,
      actionKind: req.actionKind,
      normalized: req.normalized.slice(0, 4000),
      command: keptCommand(req.command ?? ''),
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
      consumedBy: '',
      approvalsRequired: Math.max(1, need?.approvers ?? 1),
      distinctFromStarter: need?.distinctFromStarter ?? false,
      approvers: [],
    };
    // Lookup, limit and insert are one repository transaction (was one synchronous step).
    const r = await this.opts.repo.insertUnlessPending(a, limit);
    if ('existing' in r) return r.existing;
    if ('pending' in r) throw new LokiError('resource_exhausted', `session ${req.sessionId} already has ${r.pending} pending approvals; wait for them to be decided`);
    this.arm(a);
    this.emit({ type: 'requested', approval: a });
    return a;
  }

  async get(id: string): Promise<Approval> {
    await this.ready;
    const a = await this.opts.repo.get(id);
    if (!a) throw new LokiError('approval_not_found', `no approval with id ${JSON.stringify(id)}`);
    return a;
  }

  async list(filter: { status?: ApprovalStatus | undefined; sessionId?: string | undefined } = {}): Promise<Approval[]> {
    await this.ready;
    return this.opts.repo.list(filter);
  }

  /** Records a human decision. The subject comes from the authenticated caller, never from the request body. */
  // Read, check, then a compare-and-set in the repository: a decision that raced another fails, as before.
  // `record` (the audit entry) runs after every check and before the decision is stored: a decision
  // that takes effect (wakes the waiting agent, or is found by its re-ask after a restart) is
  // durable in the audit log first. A crash between the two leaves the entry and a still-pending approval.
  async decide(id: string, d: { approve: boolean; subject: string; comment?: string }, record?: (planned: Approval) => Promise<void>): Promise<Approval> {
    await this.expireDue();
    const a = await this.get(id);
    if (a.status === 'expired') throw new LokiError('approval_expired', `approval ${id} expired at ${new Date(a.expiresAt).toISOString()} and was ${this.opts.onTimeout === 'deny' ? 'denied' : 'allowed'}`);
    if (a.status !== 'pending') throw new LokiError('approval_decided', `approval ${id} was already ${a.status} by ${a.decidedBy}`);
    if (!d.subject) throw new LokiError('unauthenticated', 'an approval decision needs an authenticated subject');
    if (this.opts.fourEyes) {
      const owner = await this.opts.ownerOf(a.sessionId);
      if (owner === undefined || owner === d.subject) {
        throw new LokiError('four_eyes_required', owner === undefined ? `four-eyes approval is required and the owner of session ${a.sessionId} is unknown` : `four-eyes approval is required: ${d.subject} owns session ${a.sessionId} and cannot approve its actions`);
      }
    }
    if (d.approve && (a.distinctFromStarter || a.approvalsRequired > 1)) {
      // The rule's own requirement, enforced here whatever the daemon-wide four-eyes setting says.
      const owner = await this.opts.ownerOf(a.sessionId);
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
      const out = { ...a, approvers, comment };
      await record?.(out);
      if (!(await this.opts.repo.addApprover(id, approvers, comment, a.approvers))) throw new LokiError('approval_decided', `approval ${id} changed concurrently; look again and retry`);
      this.opts.log.info({ approval_id: id, approver: d.subject, of: a.approvalsRequired }, 'approval recorded; more approvers needed');
      this.emit({ type: 'requested', approval: out });
      return out;
    }
    const status: ApprovalStatus = d.approve ? 'approved' : 'rejected';
    const approvers = d.approve ? [...a.approvers, d.subject] : a.approvers;
    const out = { ...a, status, decidedBy: d.subject, decidedAt: now, comment, approvers };
    await record?.(out);
    if (!(await this.opts.repo.decide(id, { status, by: d.subject, at: now, comment, approvers }, a.approvers))) throw new LokiError('approval_decided', `approval ${id} was decided concurrently`);
    this.disarm(id);
    this.emit({ type: 'decided', approval: out });
    return out;
  }

  /**
   * Lets an approved action through exactly once. The action must hash to the
   * approved hash within the same session; anything else is refused. `by` is kept
   * with it, in the same compare-and-set: who used it is known after a crash.
   */
  async consume(id: string, sessionId: string, actionHash: string, by = ''): Promise<Approval> {
    await this.expireDue();
    const a = await this.get(id);
    if (a.sessionId !== sessionId || a.actionHash !== actionHash) {
      throw new LokiError('approval_mismatch', `approval ${id} was granted for a different action ("${a.normalized}"); request a new approval`);
    }
    const allowedByTimeout = a.status === 'expired' && this.opts.onTimeout === 'allow';
    if (a.status !== 'approved' && !allowedByTimeout) {
      throw new LokiError('approval_not_granted', `approval ${id} is ${a.status}${a.status === 'expired' ? ' (timed out: denied)' : ''}`);
    }
    if (a.consumedAt) throw new LokiError('approval_decided', `approval ${id} was already used at ${new Date(a.consumedAt).toISOString()}`);
    const now = this.now();
    // The repository's consume is a compare-and-set (still unused), so of two racing consumers one wins.
    if (!(await this.opts.repo.consume(id, now, by))) throw new LokiError('approval_decided', `approval ${id} was already used`);
    const out = { ...a, consumedAt: now, consumedBy: by };
    this.emit({ type: 'consumed', approval: out });
    return out;
  }

  /** Marks overdue pending requests expired; returns how many. */
  async expireDue(): Promise<number> {
    await this.ready;
    return this.expireDueNow();
  }

  private async expireDueNow(announce = true): Promise<number> {
    const due = await this.opts.repo.due(this.now());
    for (const a of due) await this.expireOne(a, announce);
    return due.length;
  }

  // Expiring is a compare-and-set (still pending), so a timer and a decision racing cannot both win.
  private async expireOne(a: Approval, announce = true): Promise<void> {
    const changed = await this.opts.repo.expire(a.id, 'system:timeout', this.now());
    this.disarm(a.id);
    if (changed) {
      this.opts.log.info({ approval_id: a.id, session_id: a.sessionId, on_timeout: this.opts.onTimeout }, 'approval timed out');
      if (announce) this.emit({ type: 'expired', approval: { ...a, status: 'expired', decidedBy: 'system:timeout', decidedAt: this.now() } });
    }
  }

  /** Resolves once the approval is no longer pending (decided or expired), or rejects when `signal` aborts. */
  async waitForDecision(id: string, signal?: AbortSignal): Promise<Approval> {
    // Listen before reading: a decision landing while the read is awaited is not missed.
    let decided: Approval | undefined;
    let wake: ((a: Approval) => void) | undefined;
    const early = (e: ApprovalEvent) => {
      if (e.approval.id !== id || e.type === 'requested' || e.type === 'consumed') return;
      decided = e.approval;
      wake?.(e.approval);
    };
    this.events.on('change', early);
    let a: Approval;
    try {
      a = await this.get(id);
    } catch (err) {
      this.events.off('change', early);
      throw err;
    }
    if (decided || a.status !== 'pending') {
      this.events.off('change', early);
      return decided ?? a;
    }
    return new Promise((resolve, reject) => {
      const onEvent = (e: Approval) => {
        cleanup();
        resolve(e);
      };
      const onAbort = () => {
        cleanup();
        reject(new LokiError('unavailable', 'stopped waiting for the approval'));
      };
      const cleanup = () => {
        this.events.off('change', early);
        wake = undefined;
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      wake = onEvent;
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
    const t = setTimeout(() => {
      this.expireOne(a).catch((err: unknown) => this.opts.log.error({ err, approval_id: a.id }, 'approvals: could not expire a request'));
    }, Math.max(0, a.expiresAt - this.now()));
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
