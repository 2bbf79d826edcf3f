// `loki dashboard` when stdout is not a terminal (a pipe, a file, CI): one plain
// snapshot of what the screens would show, or the same data as JSON lines
// (`{"kind":"session",…}` one per line), then exit 0. Same client, no Ink.
import { LokiError, escapeForDisplay } from '../../../common/src/index.js';
import type { Approval, LokiClient, Sandbox, Session, Status } from '../../../client/src/index.js';
import { SANDBOX_HEADER, SESSION_HEADER, sandboxLine, sessionLine } from './model.js';

export interface SnapshotData {
  status: Status;
  sessions: Session[];
  approvals: Approval[];
  sandboxes: Sandbox[] | null;
}

/** Sections the caller may not see (no scope) are left out, not fatal. */
async function optional<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof LokiError && (err.kind === 'permission_denied' || err.kind === 'unavailable') && err.code !== 'daemon_unavailable') return null;
    throw err;
  }
}

export async function collectSnapshot(client: LokiClient): Promise<SnapshotData> {
  const status = await client.status();
  const [sessions, approvals, sandboxes] = await Promise.all([
    optional(client.sessions.list({ all: true })),
    optional(client.approvals.list({ status: 'pending' })),
    optional(client.sandboxes.list({ all: true })),
  ]);
  return { status, sessions: sessions ?? [], approvals: approvals ?? [], sandboxes };
}

export function snapshotJsonLines(d: SnapshotData, transport: LokiClient['transport']): string[] {
  const lines = [JSON.stringify({ kind: 'status', transport, ...d.status })];
  for (const s of d.sessions) lines.push(JSON.stringify({ kind: 'session', ...s }));
  for (const a of d.approvals) lines.push(JSON.stringify({ kind: 'approval', ...a }));
  for (const b of d.sandboxes ?? []) lines.push(JSON.stringify({ kind: 'sandbox', ...b }));
  return lines;
}

export function snapshotText(d: SnapshotData, transport: LokiClient['transport'], now = new Date()): string[] {
  const out: string[] = [];
  const g = d.status.gateway;
  out.push(`loki dashboard snapshot ${now.toISOString()} · ${transport.kind} ${transport.target}${g ? ` · gateway ${g.ready ? 'ready' : 'NOT ready'}` : ''} · lokid ${d.status.daemon.version} · ${d.approvals.length} pending approvals`);
  out.push('', `Sessions (${d.sessions.length})`, SESSION_HEADER);
  for (const s of d.sessions) out.push(sessionLine(s));
  out.push('', `Pending approvals (${d.approvals.length})`);
  for (const a of d.approvals) {
    out.push(`${a.id} session ${a.session_id} ${a.action_kind} asked by ${escapeForDisplay(a.asked_by)}: ${escapeForDisplay(a.reason)}`);
    // Whole and escaped, as on the approvals screen.
    out.push(`  ${escapeForDisplay(a.action)}`);
  }
  if (d.sandboxes) {
    out.push('', `Sandboxes (${d.sandboxes.length})`, SANDBOX_HEADER);
    for (const b of d.sandboxes) out.push(sandboxLine(b));
  }
  return out;
}
