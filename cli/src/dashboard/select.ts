// Derived views of the dashboard state that the screens and the key handler
// must agree on (what is listed, in which order, is what the keys select).
import type { Approval, AuditEntry, Sandbox, Session } from '../../../client/src/index.js';
import type { DashboardState } from './context.js';
import type { LinkState } from './stream.js';
import { approvalFields, auditFields, clock, matches, sandboxFields, sessionFields } from './model.js';

export function visibleSessions(s: DashboardState): Session[] {
  const f = s.ui.filters.sessions;
  // Newest first: what a person opens the dashboard to see.
  return s.sessions.sessions.filter((x) => matches(f, sessionFields(x))).sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id));
}

export function visibleApprovals(s: DashboardState): Approval[] {
  return s.approvals.pending.filter((x) => matches(s.ui.filters.approvals, approvalFields(x)));
}

export function visibleSandboxes(s: DashboardState): Sandbox[] {
  return (s.sandboxes.value ?? []).filter((x) => matches(s.ui.filters.sandboxes, sandboxFields(x)));
}

export function visibleAudit(s: DashboardState): AuditEntry[] {
  return s.audit.entries.filter((x) => matches(s.ui.filters.audit, auditFields(x)));
}

/** Pending approvals of the open session, oldest first (`a`/`r` act on the first). */
export function sessionApprovals(s: DashboardState): Approval[] {
  return s.approvals.pending.filter((a) => a.session_id === s.ui.openSession);
}

export function staleLabel(state: LinkState, syncedAt: number | null): string | null {
  if (state === 'live' || state === 'ended') return null;
  if (state === 'connecting') return 'connecting';
  if (state === 'denied') return 'not permitted';
  return `reconnecting, data as of ${clock(syncedAt)}`;
}
