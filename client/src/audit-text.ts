// What an audit entry was about, in a few words, for the one-line views (`loki
// enterprise audit tail`, the terminal dashboard's audit tab, the web audit page).
// The action, user and resource alone say "policy.allow session:ses-… session:ses-…"
// five times over; the details say which action was allowed and by which rule.
// Everything here may come from an agent (a command it ran, a task id it chose):
// escaped, and shortened with an explicit marker; --json keeps the details whole.
import { escapeForDisplay, shortenForDisplay } from '../../common/src/display.js';
import type { AuditEntry } from './types.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** A short summary of `details` for the entries that have one worth a line; '' for the rest. */
export function auditWhat(e: Pick<AuditEntry, 'action' | 'details'>, width = 100): string {
  const d = e.details ?? {};
  const parts: string[] = [];
  const decision = e.action === 'approval.decide' ? str(d.decision) : undefined;
  if (decision) parts.push(decision);
  const normalized = str(d.normalized);
  if (normalized) parts.push(normalized);
  const task = str(d.task_id);
  if (task) parts.push(`task ${task}${str(d.status) ? ` ${str(d.status)}` : ''}`);
  if (!parts.length) return '';
  const rule = str(d.rule);
  const text = shortenForDisplay(parts.join(' '), width);
  return rule ? `${text} [${escapeForDisplay(rule)}]` : text;
}
