// Pure pieces of the dashboard: screen names, the key table, theme, filtering
// and the one-line renderings shared by the Ink screens and the plain snapshot.
import { escapeForDisplay, firstLineForDisplay, shortenForDisplay } from '../../../common/src/index.js';
import type { Approval, AuditEntry, Sandbox, Session, SessionEvent } from '../../../client/src/index.js';
import { auditWhat } from '../../../client/src/audit-text.js';

export type ScreenName = 'sessions' | 'session' | 'approvals' | 'sandboxes' | 'logs' | 'audit';

/** Top-level screens, in tab order (number keys 1–4). */
export const TABS: readonly ScreenName[] = ['sessions', 'approvals', 'sandboxes', 'audit'];

export interface KeyHelp {
  keys: string;
  what: string;
  mutates?: boolean;
}

export const KEY_TABLE: readonly KeyHelp[] = [
  { keys: '1-4 / tab', what: 'sessions, approvals, sandboxes, audit' },
  { keys: '↑ ↓ / k j', what: 'move the selection' },
  { keys: 'enter', what: 'open the selected session or sandbox logs' },
  { keys: 'esc', what: 'back (closes help, filter, confirmation)' },
  { keys: '/', what: 'filter the current list (enter keeps it, esc clears)' },
  { keys: 'f', what: 'session detail / logs: follow new lines' },
  { keys: 'a', what: 'approve the selected pending action (confirm, optional comment)', mutates: true },
  { keys: 'r', what: 'reject the selected pending action (confirm, optional comment)', mutates: true },
  { keys: 's', what: 'sandboxes: stop the selected sandbox (confirm)', mutates: true },
  { keys: '?', what: 'this help' },
  { keys: 'q / ctrl-c', what: 'quit and restore the terminal' },
];

export interface Theme {
  color: boolean;
  /** ASCII-only glyphs (TERM=dumb). */
  ascii: boolean;
}

export function themeFromEnv(env: NodeJS.ProcessEnv): Theme {
  const dumb = env.TERM === 'dumb';
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return { color: !dumb && !noColor, ascii: dumb };
}

/** Case-insensitive substring over the fields a person would search by. */
export function matches(filter: string, fields: readonly (string | null | undefined)[]): boolean {
  if (!filter) return true;
  const f = filter.toLowerCase();
  return fields.some((x) => typeof x === 'string' && x.toLowerCase().includes(f));
}

export function sessionFields(s: Session): string[] {
  return [s.id, s.state, s.owner, s.provider, s.profile, s.branch, s.prd];
}

export function sandboxFields(s: Sandbox): string[] {
  return [s.id, s.name, s.state, s.owner, s.project, s.session, s.image];
}

export function approvalFields(a: Approval): string[] {
  return [a.id, a.session_id, a.action, a.action_kind, a.asked_by, a.reason];
}

export function auditFields(e: AuditEntry): string[] {
  return [e.action, e.user, e.resource, e.result, e.reason ?? ''];
}

/** `HH:MM:SS` UTC for a timestamp (ISO string or ms); `-` when unknown. */
export function clock(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === '' || t === 0) return '-';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString().slice(11, 19);
}

export function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

export function sessionLine(s: Session): string {
  const tasks = `${s.tasks.completed}/${s.tasks.completed + s.tasks.pending + s.tasks.in_progress + s.tasks.failed}`;
  return [pad(s.id, 16), pad(s.state, 16), pad(s.owner, 12), pad(s.provider, 8), pad(`${s.iteration}/${s.max_iterations}`, 8), pad(tasks, 7), shortenForDisplay(s.branch, 40)].join(' ');
}

export const SESSION_HEADER = [pad('ID', 16), pad('STATE', 16), pad('OWNER', 12), pad('AGENT', 8), pad('ITER', 8), pad('TASKS', 7), 'BRANCH'].join(' ');

export function sandboxLine(s: Sandbox): string {
  return [pad(s.id.slice(0, 12), 12), pad(shortenForDisplay(s.name, 24), 24), pad(s.state, 9), pad(s.owner, 12), pad(s.session || '-', 16), shortenForDisplay(s.image, 30)].join(' ');
}

export const SANDBOX_HEADER = [pad('ID', 12), pad('NAME', 24), pad('STATE', 9), pad('OWNER', 12), pad('SESSION', 16), 'IMAGE'].join(' ');

/** Event lines come from the agent: escaped, and the message never cut. */
export function eventLine(e: SessionEvent): string {
  return `${clock(e.time)} #${e.seq} ${escapeForDisplay(e.type)} ${firstLineForDisplay(e.message)}`;
}

export function auditLine(e: AuditEntry): string {
  const reason = e.reason ? ` (${escapeForDisplay(e.reason)})` : '';
  const what = auditWhat(e);
  return `${clock(e.timestamp)} ${pad(escapeForDisplay(e.result), 7)} ${escapeForDisplay(e.action)} ${escapeForDisplay(e.user)} ${escapeForDisplay(e.resource)}${reason}${what ? ` ${what}` : ''}`;
}

/** For the approvals list only: the action shortened with an explicit "hidden" marker. The decision view shows it whole. */
export function approvalListLine(a: Approval, width: number): string {
  const head = `${pad(a.id.slice(0, 12), 12)} ${pad(a.session_id, 16)} ${pad(a.action_kind, 6)} `;
  return head + shortenForDisplay(a.action, Math.max(20, width - head.length - 2));
}

/** Keeps the selected row visible in a window of `height` rows. */
export function windowAround(count: number, selected: number, height: number): { start: number; end: number } {
  const h = Math.max(1, height);
  if (count <= h) return { start: 0, end: count };
  const start = Math.min(Math.max(0, selected - Math.floor(h / 2)), count - h);
  return { start, end: start + h };
}
