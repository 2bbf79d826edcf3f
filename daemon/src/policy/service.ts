// The policy feature as the rest of the daemon uses it: the engine's decision,
// plus approvals for `ask` and an audit entry for every decision. The agent
// API (agent.sock) and the gRPC adapter both call this; neither decides alone.
import { APPROVAL_STATUSES, LokiError, isOneOf, type Logger } from '../../../common/src/index.js';
import { fitEvent } from '../audit/format.js';
import type { AuditLog } from '../audit/types.js';
import type { Approval, ApprovalStore } from './approvals.js';
import type { Action, DecideContext, Decision, PolicyEngine } from './engine.js';

export interface DecideOptions {
  /** Authenticated subject making the request (audit `user`). */
  subject: string;
  requestId?: string;
  /** An approval granted for this exact action. */
  approvalId?: string;
  /** Kept with the approval when this call uses it (Approval.consumedBy). */
  consumer?: string;
  /** Wait up to this long for a human decision when the result is `ask`. */
  waitMs?: number;
  /** Wait until the approval is decided or expires (bounded by the approval timeout). */
  untilDecided?: boolean;
  signal?: AbortSignal;
}

export interface DecideResult extends Decision {
  approvalId: string;
}

export interface PolicyServiceOptions {
  engine: PolicyEngine;
  approvals: ApprovalStore;
  audit: AuditLog;
  log: Logger;
}

export const MAX_WAIT_MS = 600_000;

/** A bad wait_ms is the request's fault whatever the session: checked before anything is looked up. */
export function checkWaitMs(waitMs: number | undefined): void {
  if (waitMs !== undefined && (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > MAX_WAIT_MS)) {
    throw new LokiError('invalid_argument', `wait_ms must be an integer between 0 and ${MAX_WAIT_MS}`);
  }
}

function actionKind(a: Action): string {
  return a.kind;
}

/** Why a decided approval allows (`allowed`: its outcome) or denies its action: the words the agent is answered with. */
export function approvalReason(a: Approval, allowed: boolean): string {
  if (a.status === 'expired') return allowed ? 'approval timed out and policy.approvals.on_timeout is allow' : 'the approval timed out';
  return `${a.status === 'approved' ? 'approved' : 'rejected'} by ${a.decidedBy}${a.comment ? `: ${a.comment}` : ''}`;
}

/** The exact shell command of an approval, for its audit entry (fitEvent cuts a long one and says so). */
function commandDetail(command: string): { command?: string } {
  return command ? { command } : {};
}

export class PolicyService {
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: PolicyServiceOptions) {
    if (!opts?.engine || !opts.approvals || !opts.audit || !opts.log) throw new Error('PolicyService needs engine, approvals, audit and log');
    // Timeouts happen without a caller; audit them here so every outcome is on record.
    this.unsubscribe = opts.approvals.subscribe((e) => {
      if (e.type !== 'expired') return;
      void opts.audit.record(fitEvent({
        action: 'approval.expire',
        user: 'system',
        resource: `session:${e.approval.sessionId}`,
        details: { approval_id: e.approval.id, action_hash: e.approval.actionHash, normalized: e.approval.normalized, ...commandDetail(e.approval.command) },
        result: 'denied',
        reason: 'approval timed out',
      }));
    });
  }

  get engine(): PolicyEngine {
    return this.opts.engine;
  }

  get approvals(): ApprovalStore {
    return this.opts.approvals;
  }

  /** Explain: the same decision, never recorded and never creating an approval. */
  explain(action: Action, ctx: DecideContext): Decision {
    return this.opts.engine.decide(action, ctx);
  }

  async decide(action: Action, ctx: DecideContext, o: DecideOptions): Promise<DecideResult> {
    checkWaitMs(o.waitMs);
    const d = this.opts.engine.decide(action, ctx);
    let result: DecideResult = { ...d, approvalId: '' };
    if (d.decision === 'ask') {
      if (o.approvalId) {
        // Throws approval_mismatch for any other action or session, approval_not_granted otherwise.
        const a = await this.opts.approvals.consume(o.approvalId, ctx.sessionId, d.actionHash, o.consumer);
        result = this.approved(d, a);
      } else {
        const a = await this.opts.approvals.request({ sessionId: ctx.sessionId, actionKind: actionKind(action), normalized: d.normalized, command: action.kind === 'shell' ? action.command : '', actionHash: d.actionHash, askedBy: d.rule, reason: d.reason });
        await this.audit(o, 'approval.request', ctx.sessionId, d, 'success', undefined, { approval_id: a.id });
        result = { ...d, approvalId: a.id };
        if (o.waitMs || o.untilDecided) result = await this.waitFor(d, a, o);
      }
    }
    // A deny stays a deny whatever was approved, and an allow needs no approval: approval_id is ignored then.
    if (result.decision === 'deny') await this.audit(o, 'policy.deny', ctx.sessionId, result, 'denied', result.reason);
    else if (result.decision === 'allow') await this.audit(o, 'policy.allow', ctx.sessionId, result, 'success');
    return result;
  }

  /**
   * For the agent channel: never returns `ask`. Blocks while a human decides (or
   * the approval times out, which denies by default); rejects if `signal` aborts.
   */
  async decideAndWait(action: Action, ctx: DecideContext, o: { subject: string; requestId?: string; signal: AbortSignal }): Promise<DecideResult & { decision: 'allow' | 'deny' }> {
    const r = await this.decide(action, ctx, { ...o, untilDecided: true });
    if (r.decision === 'ask') throw new LokiError('unavailable', 'stopped waiting for the approval');
    return r as DecideResult & { decision: 'allow' | 'deny' };
  }

  private approved(d: Decision, a: Approval): DecideResult {
    return { ...d, decision: 'allow', rule: `approval:${a.id}`, reason: approvalReason(a, true), approvalId: a.id };
  }

  private async waitFor(d: Decision, a: Approval, o: DecideOptions): Promise<DecideResult> {
    const ac = new AbortController();
    const timer = o.untilDecided ? undefined : setTimeout(() => ac.abort(), o.waitMs);
    const onAbort = () => ac.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) ac.abort();
    try {
      const done = await this.opts.approvals.waitForDecision(a.id, ac.signal);
      const outcome = this.opts.approvals.outcome(done);
      if (outcome === 'allow') return this.approved(d, await this.opts.approvals.consume(a.id, done.sessionId, d.actionHash));
      return { ...d, decision: 'deny', rule: `approval:${a.id}`, reason: approvalReason(done, false), approvalId: a.id };
    } catch (err) {
      if (!ac.signal.aborted) throw err;
      return { ...d, approvalId: a.id }; // still pending: the caller keeps the approval id and asks again
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  async listApprovals(filter: { sessionId?: string; status?: string }): Promise<Approval[]> {
    const status = filter.status || undefined;
    if (status && !isOneOf(APPROVAL_STATUSES, status)) {
      throw new LokiError('invalid_argument', `status must be pending, approved, rejected or expired (got ${JSON.stringify(status)})`);
    }
    return this.opts.approvals.list({ status: status as Approval['status'] | undefined, sessionId: filter.sessionId || undefined });
  }

  /**
   * `ip`: the caller's address as the audit log names it (`local` on the admin socket, the client's through the gateway).
   * The `approval.decide` entry is durable before the decision is stored: an approval that lets an agent act is never
   * missing from the audit log, even when the daemon dies or the log cannot be written right after the decision
   * (then the approval stays pending and the caller gets `unavailable`).
   */
  async decideApproval(id: string, approve: boolean, subject: string, comment: string, requestId?: string, ip?: string): Promise<Approval> {
    if (!id) throw new LokiError('invalid_argument', 'approval id is required');
    const who = { ...(requestId ? { request_id: requestId } : {}), ...(ip ? { ip } : {}) };
    let audited: Approval | undefined;
    try {
      return await this.opts.approvals.decide(id, { approve, subject, comment }, async (a) => {
        await this.opts.audit.record(fitEvent({
          action: 'approval.decide',
          user: subject,
          resource: `session:${a.sessionId}`,
          details: { approval_id: a.id, decision: a.status, action_hash: a.actionHash, normalized: a.normalized, ...commandDetail(a.command), comment: a.comment },
          result: 'success',
          ...who,
        }));
        audited = a;
      });
    } catch (err) {
      if (err instanceof LokiError && err.kind === 'permission_denied') {
        await this.opts.audit.record(fitEvent({ action: 'approval.decide', user: subject, resource: `approval:${id}`, result: 'denied', reason: err.message, ...who }));
      } else if (audited && err instanceof LokiError && err.code === 'approval_decided') {
        // Audited, then another decision won the compare-and-set: say that this one did not take effect.
        await this.opts.audit.record(fitEvent({ action: 'approval.decide', user: subject, resource: `session:${audited.sessionId}`, details: { approval_id: id, decision: audited.status }, result: 'error', reason: err.message, ...who })).catch(() => undefined);
      }
      throw err;
    }
  }

  close(): void {
    this.unsubscribe();
  }

  private audit(o: DecideOptions, action: string, sessionId: string, d: Decision, result: 'success' | 'denied', reason?: string, extra: Record<string, unknown> = {}): Promise<void> {
    return this.opts.audit.record(fitEvent({
      action,
      user: o.subject,
      resource: `session:${sessionId}`,
      details: { normalized: d.normalized.slice(0, 1000), rule: d.rule, action_hash: d.actionHash, profile: d.profile, mode: d.mode, ...extra },
      result,
      ...(reason ? { reason } : {}),
      ...(o.requestId ? { request_id: o.requestId } : {}),
    }));
  }
}
