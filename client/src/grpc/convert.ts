// Generated messages → domain types (../types.ts), at the wire and nowhere else.
// Unset proto fields (0, "") become `null` where the domain type says "not set".
import type { AuditEntry as PbAuditEntry, AuditSummaryResponse, VerifyAuditResponse } from '../../../proto/gen/loki/v1/audit.js';
import type {
  PolicyDecision as PbDecision,
  Approval as PbApproval,
  DecideResponse,
  PolicyAction as PbPolicyAction,
  ShowPolicyResponse,
} from '../../../proto/gen/loki/v1/policy.js';
import type { Sandbox as PbSandbox, BuildProgress as PbBuildProgress } from '../../../proto/gen/loki/v1/sandbox.js';
import type { Session as PbSession, SessionEvent as PbSessionEvent, SessionMetricsResponse, TaskCounts as PbTaskCounts } from '../../../proto/gen/loki/v1/sessions.js';
import type { GetStatusResponse } from '../../../proto/gen/loki/v1/system.js';
import type { Token as PbToken } from '../../../proto/gen/loki/v1/tokens.js';
import type { AgentTrailEntry, DiffSummary as PbDiff, Project as PbProject, PullRequestResult as PbPullRequest, Workspace as PbWorkspace } from '../../../proto/gen/loki/v1/workspace.js';
import type {
  Approval,
  AuditEntry,
  AuditSummary,
  AuditVerification,
  BuildProgress,
  Decision,
  DiffSummary,
  PolicyAction,
  PolicyDecision,
  PolicyShow,
  Project,
  PullRequestResult,
  Sandbox,
  Session,
  SessionEvent,
  SessionMetrics,
  Status,
  TaskCounts,
  Token,
  TrailEntry,
  Workspace,
} from '../types.js';
import { approvalStatusCodec, autonomyCodec, decisionCodec, enumFromAnswer, providerCodec, sandboxStateCodec, sessionStateCodec } from './vocab.js';

export const iso = (ms: number | undefined): string | null => (ms && ms > 0 ? new Date(ms).toISOString() : null);
const orNull = (s: string | undefined): string | null => (s ? s : null);

function jsonObject(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { unparsed: text };
  }
}

const tasks = (t: PbTaskCounts | undefined): TaskCounts => ({
  pending: t?.pending ?? 0,
  in_progress: t?.inProgress ?? 0,
  completed: t?.completed ?? 0,
  failed: t?.failed ?? 0,
});

export function toSession(s: PbSession | undefined): Session {
  return {
    id: s?.id ?? '',
    state: s ? enumFromAnswer(sessionStateCodec, 'session state', s.state, s.legacyState) : '',
    owner: s?.owner ?? '',
    provider: s ? enumFromAnswer(providerCodec, 'session provider', s.provider, s.legacyProvider) : '',
    profile: s?.profile ?? '',
    autonomy: orNull(s ? enumFromAnswer(autonomyCodec, 'session autonomy', s.autonomy, s.legacyAutonomy, true) : ''),
    project_id: s?.projectId ?? '',
    prd: s?.promptSource ?? '',
    model: orNull(s?.model),
    upstream: orNull(s?.upstream),
    branch: s?.branch ?? '',
    sandbox_id: orNull(s?.sandboxId),
    created_at: iso(s?.createdAtMs) ?? '',
    started_at: iso(s?.startedAtMs),
    ended_at: iso(s?.endedAtMs),
    uptime_seconds: Math.round(s?.uptimeSeconds ?? 0),
    iteration: s?.iteration ?? 0,
    max_iterations: s?.maxIterations ?? 0,
    tasks: tasks(s?.tasks),
    tasks_reached: tasks(s?.tasksReached),
    agents: { active: s?.agentsActive ?? 0, total: s?.agentsTotal ?? 0 },
    cost_usd: s?.costUsd ?? 0,
    tokens: { input: s?.inputTokens ?? 0, output: s?.outputTokens ?? 0 },
    events_total: s?.eventsTotal ?? 0,
    decisions: { allow: s?.decisionsAllow ?? 0, deny: s?.decisionsDeny ?? 0, ask: s?.decisionsAsk ?? 0 },
    stop_requested: s?.stopRequested ?? false,
    reason: orNull(s?.reason),
    workspace_removed: s?.workspaceRemoved ?? false,
  };
}

export function toSessionEvent(e: PbSessionEvent): SessionEvent {
  return { session_id: e.sessionId, seq: e.seq, gid: e.gid, time: iso(e.timeMs) ?? '', type: e.type, message: e.message, data: jsonObject(e.dataJson) };
}

export function toSessionMetrics(r: SessionMetricsResponse): SessionMetrics {
  return {
    sessions: r.sessions.map(toSession),
    active: r.active,
    created_total: r.createdTotal,
    decisions: { allow: r.decisionsAllow, deny: r.decisionsDeny, ask: r.decisionsAsk },
    approvals_pending: r.approvalsPending,
  };
}

export function toDiff(d: PbDiff): DiffSummary {
  return {
    session_id: d.sessionId,
    branch: d.branch,
    base_branch: d.baseBranch,
    base_commit: d.baseCommit,
    head_commit: d.headCommit,
    descends_from_base: d.descendsFromBase,
    files_changed: d.filesChanged,
    insertions: d.insertions,
    deletions: d.deletions,
    files: d.files.map((f) => ({ path: f.path, insertions: f.insertions, deletions: f.deletions, binary: f.binary })),
    commits: d.commits.map((c) => ({ sha: c.sha, subject: c.subject, author: c.author, date: c.date, files_changed: c.filesChanged })),
    pull_request: d.pullRequest ? toPullRequest(d.pullRequest) : null,
  };
}

export function toPullRequest(p: PbPullRequest): PullRequestResult {
  return { opened: p.opened, url: orNull(p.url), reason: orNull(p.reason), commands: [...p.commands] };
}

export function toWorkspace(w: PbWorkspace): Workspace {
  return {
    session_id: w.sessionId,
    project_id: w.projectId,
    branch: w.branch,
    base_branch: w.baseBranch,
    base_commit: w.baseCommit,
    head_commit: orNull(w.headCommit),
    state: w.state,
    workspace: w.path,
    agent: w.agent,
    owner: w.owner,
    created_at: iso(w.createdAtMs) ?? '',
    finished_at: iso(w.finishedAtMs),
  };
}

export function toTrailEntry(e: AgentTrailEntry): TrailEntry {
  let details: unknown = {};
  try {
    details = JSON.parse(e.detailsJson || '{}');
  } catch {
    details = e.detailsJson;
  }
  return { session_id: e.sessionId, seq: e.seq, timestamp: e.timestamp, action: e.action, agent: e.agent, details };
}

export function toApproval(a: PbApproval | undefined): Approval {
  return {
    id: a?.id ?? '',
    session_id: a?.sessionId ?? '',
    status: a ? enumFromAnswer(approvalStatusCodec, 'approval status', a.status, a.legacyStatus) : '',
    // An older lokid sends no command: its normalized text is all there is.
    action: a?.command || (a?.normalized ?? ''),
    normalized: a?.normalized ?? '',
    action_kind: a?.actionKind ?? '',
    action_hash: a?.actionHash ?? '',
    asked_by: a?.askedBy ?? '',
    reason: a?.reason ?? '',
    requested_at: iso(a?.requestedAtMs),
    expires_at: iso(a?.expiresAtMs),
    decided_by: orNull(a?.decidedBy),
    decided_at: iso(a?.decidedAtMs),
    comment: orNull(a?.comment),
    used_at: iso(a?.consumedAtMs),
    approvals_required: Math.max(1, a?.approvalsRequired ?? 1),
    approvers: [...(a?.approvers ?? [])],
    distinct_from_starter: a?.distinctFromStarter ?? false,
  };
}

export function toSandbox(s: PbSandbox | undefined): Sandbox {
  const h = s?.hardening;
  return {
    id: s?.id ?? '',
    name: s?.name ?? '',
    state: s ? enumFromAnswer(sandboxStateCodec, 'sandbox state', s.state, s.legacyState) : '',
    owner: s?.owner ?? '',
    project: s?.project ?? '',
    session: s?.session ?? '',
    image: s?.image ?? '',
    created_at: iso(s?.createdAtMs),
    workspace: s?.workspace ?? '',
    exit_code: s?.exitCode ?? 0,
    hardening: h
      ? {
          user: h.user,
          read_only_rootfs: h.readOnlyRootfs,
          cap_drop: [...h.capDrop],
          no_new_privileges: h.noNewPrivileges,
          seccomp_profile: h.seccompProfile,
          network_mode: h.networkMode,
          memory_bytes: h.memoryBytes,
          cpus: h.cpus,
          pids: h.pids,
          privileged: h.privileged,
        }
      : null,
  };
}

export function toBuildProgress(p: PbBuildProgress): BuildProgress {
  return { phase: p.phase, message: p.message, percent: p.percent, image_id: p.imageId, reused: p.reused };
}

export function toProject(p: PbProject): Project {
  return {
    id: p.id,
    name: p.name,
    path: p.path,
    base_branch: p.baseBranch,
    remote: orNull(p.remote),
    protected_branches: [...p.protectedBranches],
    registered_by: p.registeredBy,
    registered_at: iso(p.registeredAtMs),
    alias: orNull(p.alias),
    shared: p.shared,
  };
}

export function toToken(t: PbToken | undefined, now = Date.now()): Token {
  const revoked = t?.revokedAtMs ?? 0;
  const expires = t?.expiresAtMs ?? 0;
  return {
    id: t?.id ?? '',
    name: t?.name ?? '',
    scopes: [...(t?.scopes ?? [])],
    role: orNull(t?.role),
    owner: t?.owner ?? '',
    status: revoked > 0 ? 'revoked' : expires > 0 && expires <= now ? 'expired' : 'active',
    created_at: iso(t?.createdAtMs),
    expires_at: iso(expires),
    revoked_at: iso(revoked),
    last_used_at: iso(t?.lastUsedAtMs),
  };
}

export function toAuditEntry(e: PbAuditEntry): AuditEntry {
  return {
    timestamp: e.timestamp,
    action: e.action,
    user: e.user,
    resource: e.resource,
    details: jsonObject(e.detailsJson),
    ip: e.ip,
    result: e.result,
    ...(e.reason ? { reason: e.reason } : {}),
    request_id: e.requestId,
    seq: e.seq,
  };
}

export function toAuditSummary(s: AuditSummaryResponse): AuditSummary {
  return { since: s.since, until: s.until, total: s.total, by_action: { ...s.byAction }, by_user: { ...s.byUser }, by_result: { ...s.byResult } };
}

export function toVerification(r: VerifyAuditResponse): AuditVerification {
  return r.ok
    ? { ok: true, entries: r.entries, files: r.files, last_seq: r.lastSeq, last_mac: r.lastMac }
    : { ok: false, entries: r.entries, files: r.files, file: r.file, line: r.line, seq: r.seq, reason: r.reason };
}

/** A decision this client does not know (a newer daemon's) is shown as `unknown`, which every caller treats as not allowed. */
export function decisionName(d: PbDecision): Decision {
  return decisionCodec.fromWire(d) ?? 'unknown';
}

export function toPolicyDecision(r: DecideResponse): PolicyDecision {
  return {
    decision: decisionName(r.decision),
    rule: r.rule,
    reason: r.reason,
    normalized: r.normalized,
    action_hash: r.actionHash,
    profile: r.profile,
    mode: enumFromAnswer(autonomyCodec, 'policy mode', r.mode, r.legacyMode),
    commands: r.commands.map((c) => ({ normalized: c.normalized, via: [...c.via], decision: decisionName(c.decision), rule: c.rule, reason: c.reason })),
  };
}

export function fromPolicyAction(a: PolicyAction): PbPolicyAction {
  switch (a.kind) {
    case 'shell':
      return { kind: { $case: 'shell', shell: { command: a.command } } };
    case 'write':
      return { kind: { $case: 'write', write: { path: a.path } } };
    case 'read':
      return { kind: { $case: 'read', read: { path: a.path } } };
    case 'delete':
      return { kind: { $case: 'delete', delete: { path: a.path } } };
    case 'commit':
      return { kind: { $case: 'commit', commit: { message: a.message } } };
    case 'phase':
      return { kind: { $case: 'phase', phase: { name: a.name } } };
  }
}

export function toPolicyShow(r: ShowPolicyResponse): PolicyShow {
  return {
    default_profile: r.defaultProfile,
    mode: enumFromAnswer(autonomyCodec, 'policy mode', r.mode, r.legacyMode),
    profiles: r.profiles.map((p) => ({
      name: p.name,
      description: p.description,
      default_decision: p.defaultDecision ? decisionName(p.defaultDecision) : p.legacyDefaultDecision,
      fail_closed: p.failClosed,
      writes: p.writes,
      commit: p.commit,
      mode: enumFromAnswer(autonomyCodec, 'profile mode', p.mode, p.legacyMode, true),
      rules: p.rules.map((x) => ({ id: x.id, effect: x.effect, pattern: x.pattern, reason: x.reason })),
    })),
    allowed_paths: [...r.allowedPaths],
    protected_paths: [...r.protectedPaths],
    approval_timeout_seconds: r.approvalTimeoutSeconds,
    on_timeout: r.onTimeout,
    four_eyes: r.fourEyes,
  };
}

export function toStatus(r: GetStatusResponse): Status {
  const s = r.sandboxes;
  return {
    daemon: {
      version: r.version,
      started_at: iso(r.startedAtMs) ?? '',
      uptime_seconds: r.uptimeSeconds,
      sandbox_driver: { name: r.sandboxDriver, reachable: r.sandboxDriverReachable, version: r.sandboxDriverVersion, can_pause: r.sandboxDriverCanPause },
      // The HTTP API's older spelling of the same facts (the proto's docker_* fields are not read).
      docker: { reachable: r.sandboxDriverReachable, version: r.sandboxDriverVersion },
      base_image: { name: r.baseImage, present: r.baseImagePresent },
      sandbox_runtime: { name: r.sandboxRuntime, registered: r.sandboxRuntimeRegistered },
      sandboxes: { running: s?.running ?? 0, paused: s?.paused ?? 0, exited: s?.exited ?? 0, total: s?.total ?? 0 },
      sandbox_pool: { size: r.sandboxPool?.size ?? 0, ready: r.sandboxPool?.ready ?? 0, disabled: r.sandboxPool?.disabled ?? '' },
    },
    gateway: null,
    caller: { role: r.callerRole, subject: r.callerSubject, scopes: r.callerRole === 'local-admin' ? ['*'] : [] },
  };
}
