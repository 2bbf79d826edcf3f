// A session's own autonomy mode (chosen at start) over the profile's: the decisions it changes,
// and the approvals and audit entries of the asks and allows it makes itself.
import { fitEvent } from '../audit/format.js';
import type { AuditLog } from '../audit/types.js';
import type { Action, AutonomyMode, Decision } from '../policy/engine.js';
import { approvalReason, type PolicyService } from '../policy/service.js';
import type { Session } from './types.js';

interface ModeDeps {
  policy: PolicyService;
  audit: AuditLog;
}

/**
 * The engine applies the profile's autonomy mode; a session may choose its
 * own mode at start. Only the differences are re-decided here: phase
 * boundaries, and supervised turning an allow into an ask. A deny stays a deny.
 */
export function withSessionMode(s: Session, action: Action, d: Decision): Decision {
  const mode = s.autonomy as AutonomyMode | '';
  if (!mode || mode === d.mode || d.decision === 'deny') return d;
  if (action.kind === 'phase') {
    return mode === 'perpetual'
      ? { ...d, decision: 'allow', mode, rule: 'session-mode:perpetual', reason: 'perpetual mode does not stop at phase boundaries' }
      : { ...d, decision: 'ask', mode, rule: `session-mode:${mode}`, reason: `${mode} mode asks for approval at the phase boundary "${action.name}"` };
  }
  if (mode === 'supervised' && d.decision === 'allow') return { ...d, decision: 'ask', mode, rule: 'session-mode:supervised', reason: 'supervised mode asks for approval of every action' };
  // The profile's supervised mode turned an allow into this ask; the session's own mode overrides it
  // (docs/policy.md "Staged autonomy"), as it overrides a profile's checkpoint at phases above.
  if (d.rule === 'mode:supervised') return { ...d, decision: 'allow', mode, rule: `session-mode:${mode}`, reason: `the session's ${mode} mode overrides the profile's supervised mode` };
  return { ...d, mode };
}

/**
 * A session-mode ask (checkpoint, supervised) makes its approval here rather than in
 * PolicyService.decide, so it is audited here, the same way: `approval.request`.
 */
export async function requestModeApproval(o: ModeDeps, action: Action, d: Decision, sessionId: string, subject: string) {
  const a = await o.policy.approvals.request({ sessionId, actionKind: action.kind, normalized: d.normalized, command: action.kind === 'shell' ? action.command : '', actionHash: d.actionHash, askedBy: d.rule.replace('session-mode:', 'mode:'), reason: d.reason });
  await o.audit.record(fitEvent({ action: 'approval.request', user: subject, resource: `session:${sessionId}`, details: { normalized: d.normalized.slice(0, 1000), rule: d.rule, action_hash: d.actionHash, profile: d.profile, mode: d.mode, approval_id: a.id }, result: 'success' }));
  return a;
}

/** A session mode's allow (it overrides the profile's ask), audited as PolicyService.decide audits one: `policy.allow`. */
export async function overrideAllow(o: Pick<ModeDeps, 'audit'>, d: Decision, sessionId: string, subject: string): Promise<Decision> {
  await o.audit.record(fitEvent({ action: 'policy.allow', user: subject, resource: `session:${sessionId}`, details: { normalized: d.normalized.slice(0, 1000), rule: d.rule, action_hash: d.actionHash, profile: d.profile, mode: d.mode }, result: 'success' }));
  return d;
}

/** Uses the approval a session-mode ask waited on (`by`: the numbered Decide using it), then allows as overrideAllow. */
export async function consumeOverride(o: ModeDeps, d: Decision, approvalId: string, sessionId: string, subject: string, by: string): Promise<Decision> {
  const a = await o.policy.approvals.consume(approvalId, sessionId, d.actionHash, by);
  const out: Decision = { ...d, decision: 'allow', rule: `approval:${a.id}`, reason: approvalReason(a, true) };
  return overrideAllow(o, out, sessionId, subject);
}
