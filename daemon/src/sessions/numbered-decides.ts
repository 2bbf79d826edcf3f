// Numbered Decides (AgentDecideRequest.decide_seq): what lokid keeps of the runner's last one, so
// the same Decide sent again after a crash gets its first answer and a human is not asked twice,
// and what binds that record, its answer and its use of an approval to one runner generation
// (one more at each Hello), so none of it is ever read as a later runner's.
import { createHash } from 'node:crypto';
import { LokiError } from '../../../common/src/index.js';
import type { AgentActionRequest, AgentDecision } from '../agent/types.js';
import { fitEvent } from '../audit/format.js';
import type { AuditLog } from '../audit/types.js';
import { approvalReason, type PolicyService } from '../policy/service.js';
import type { CounterUpdate, DecideRecord, SessionRepo } from './repo.js';
import type { Session } from './types.js';

/** A numbered Decide: its runner generation, its number and its action's content (kind and target) hashed, what a record of it is bound to. */
export type Numbered = Pick<DecideRecord, 'gen' | 'seq' | 'hash'>;

export function numbered(req: AgentActionRequest, gen: number): Numbered | undefined {
  if (!req.decideSeq) return undefined;
  return { gen, seq: req.decideSeq, hash: createHash('sha256').update(JSON.stringify(req.action)).digest('hex') };
}

/** A Decide as asked: the request and, when numbered, what its record is bound to. */
export interface Asked {
  req: AgentActionRequest;
  n: Numbered | undefined;
}

/**
 * What a numbered Decide leaves on the approval it uses (Approval.consumedBy): only the Decide
 * that used an approval is answered by it when sent again, never another that waited on it too,
 * nor the same number of a later runner (generation).
 */
export function consumer(n: Numbered | undefined): string {
  return n ? `decide:${n.gen}:${n.seq}:${n.hash}` : '';
}

/** Records a Decide's answer (SessionAgentHooks.record): `count` it in the decision counters, `noted` only over its own record. */
export type RecordDecision = (s: Session, c: Asked, r: AgentDecision, normalized: string, count: boolean, noted: boolean) => Promise<AgentDecision>;

/**
 * The runner sends a numbered Decide again when lokid died before its answer left (its call
 * failed UNAVAILABLE). The recorded answer, or the approval it waited on, answers it: a human
 * is not asked twice for one action, and a denied action is not put to another human. The
 * runner is untrusted: the record is bound to the action's content, so its number sent with
 * another action (or a number below the last) is refused rather than given another's answer.
 * Undefined: decide it as usual (a new number, or an approval still pending or not yet used).
 */
export async function answeredBefore(o: { policy: PolicyService; audit: AuditLog }, s: Session, c: Asked, n: Numbered, last: DecideRecord | undefined, record: RecordDecision): Promise<AgentDecision | undefined> {
  if (!last || last.gen !== n.gen || n.seq > last.seq) return undefined;
  if (n.seq < last.seq || n.hash !== last.hash) {
    const why = n.seq < last.seq ? `is below the last one answered (${last.seq})` : 'was already used for another action';
    throw new LokiError('decide_seq_reused', `decide_seq ${n.seq} ${why}; number each Decide once, one more than the last`);
  }
  if (last.answer) return last.answer;
  const a = last.approvalId ? await o.policy.approvals.get(last.approvalId).catch(() => undefined) : undefined;
  const outcome = a && o.policy.approvals.outcome(a);
  // An approval used by another Decide (an unnumbered one, or one that waited on it too) is not this
  // Decide's allow: one approval lets one action through. Decided afresh, it asks a human again.
  if (!a || !outcome || outcome === 'pending' || (outcome === 'allow' && (!a.consumedAt || a.consumedBy !== consumer(n)))) return undefined;
  // Decided, and (an allow) used by this very Decide: lokid died before recording the answer.
  const r: AgentDecision = { decision: outcome, reason: approvalReason(a, outcome === 'allow'), rule: `approval:${a.id}`, approvalId: a.id };
  if (outcome === 'allow') {
    // Its policy.allow entry may have died with the old process: the allow that now leaves is on record.
    await o.audit.record(fitEvent({ action: 'policy.allow', user: `session:${s.id}`, resource: `session:${s.id}`, details: { normalized: a.normalized.slice(0, 1000), rule: r.rule, action_hash: a.actionHash, approval_id: a.id, decide_seq: n.seq, resent: true }, result: 'success' }));
  }
  return record(s, c, r, a.normalized, false, true);
}

/** Whether `gen` is still the session's runner generation (no Hello since). */
export async function isCurrent(store: Pick<SessionRepo, 'lastDecide'>, sessionId: string, gen: number): Promise<boolean> {
  return (await store.lastDecide(sessionId)).gen === gen;
}

/** A numbered Decide's final answer, kept in the transaction of its decision event (see answeredBefore); `noted`: only over its own record. */
export function answerOf(n: Numbered | undefined, r: AgentDecision, noted: boolean): CounterUpdate {
  return n ? { decide: { ...n, approvalId: r.approvalId, answer: { decision: r.decision, reason: r.reason, rule: r.rule, approvalId: r.approvalId }, ...(noted ? { noted } : {}) } } : {};
}
