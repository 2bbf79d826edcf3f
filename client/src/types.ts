// Loki's domain types: what every operator surface (CLI, Ink dashboard, web
// dashboard) works with, whichever transport carried them. They are the JSON the
// HTTP API returns (snake_case, timestamps as ISO 8601 UTC strings, `null` for
// "not set"), so the HTTP transport passes bodies through and the gRPC transport
// converts generated messages into exactly these shapes (client/src/grpc/convert*.ts).
// Binary payloads (logs, exec output) are the one exception: Uint8Array here,
// base64 or WebSocket binary frames on the HTTP wire.
// The sessions and approvals types live here; the others in client/src/types/*.ts, re-exported below by name.
import type { Timestamp } from './types/common.js';
import type { ReconnectListener } from './resume.js';

export type { TaskStatus, Timestamp } from './types/common.js';
export type {
  Hardening,
  Sandbox,
  StartSandboxInput,
  StopSandboxInput,
  StopSandboxResult,
  SandboxLogsOptions,
  OutputChunk,
  ExecOptions,
  ExecOutput,
  ExecSession,
  BuildImageInput,
  BuildProgress,
} from './types/sandboxes.js';
export type {
  Project,
  RegisterProjectInput,
  DiscoverInput,
  DiscoveredRepo,
  DiscoverResult,
  HealthStatus,
  ProjectHealth,
  ProjectSync,
  PruneBranchesResult,
  RegistryTask,
  Learning,
  LearningsQuery,
  ListTasksQuery,
} from './types/projects.js';
export type {
  Token,
  GenerateTokenInput,
  GeneratedToken,
  AuditEntry,
  AuditQuery,
  AuditPage,
  AuditSummary,
  AuditVerification,
  AuditTailOptions,
  PolicyAction,
  Decision,
  PolicyCheckInput,
  CommandDecision,
  PolicyDecision,
  PolicyRule,
  PolicyProfile,
  PolicyShow,
  DaemonStatus,
  SandboxDriverStatus,
  GatewayStatus,
  Status,
  ErrorBody,
} from './types/access.js';

// ---------------------------------------------------------------- sessions

// The value lists (states, providers, autonomy modes, approval statuses) are defined once in common/src/vocab.ts.
import type { ApprovalStatus } from '../../common/src/vocab.js';

export type { SessionState, Provider, AutonomyMode, ApprovalStatus } from '../../common/src/vocab.js';
export { SESSION_STATES, TERMINAL_SESSION_STATES, isTerminalState, PROVIDERS, AUTONOMY_MODES, APPROVAL_STATUSES, SESSION_ID_PATTERN } from '../../common/src/vocab.js';


export interface TaskCounts {
  pending: number;
  in_progress: number;
  completed: number;
  failed: number;
}

export interface Session {
  id: string;
  /** A SessionState; typed as string so a newer daemon's state is shown, not rejected. */
  state: string;
  owner: string;
  provider: string;
  profile: string;
  autonomy: string | null;
  project_id: string;
  /** Where the prompt came from: the PRD path, or `inline`. */
  prd: string;
  model: string | null;
  /** The configured model upstream the session's model calls go to (openai), or null. */
  upstream: string | null;
  branch: string;
  sandbox_id: string | null;
  created_at: Timestamp;
  started_at: Timestamp | null;
  ended_at: Timestamp | null;
  uptime_seconds: number;
  iteration: number;
  max_iterations: number;
  /** Tasks currently in each status. */
  tasks: TaskCounts;
  /** Tasks that ever reached each status (monotonic; `loki_tasks_total`). */
  tasks_reached: TaskCounts;
  agents: { active: number; total: number };
  cost_usd: number;
  tokens: { input: number; output: number };
  events_total: number;
  decisions: { allow: number; deny: number; ask: number };
  stop_requested: boolean;
  reason: string | null;
  /** The workspace (and container) were removed by `sessions rm`, `prune` or retention; the record stays. */
  workspace_removed: boolean;
}

/** What `sessions rm` removed. */
export interface RemovedSession {
  session: Session;
  /** Disk space the workspace used. */
  freed_bytes: number;
}

export interface PruneSessionsInput {
  /** Only sessions that ended at least this long ago (0 or unset = every ended session). */
  older_than_seconds?: number;
  /** Report what would be removed, remove nothing. */
  dry_run?: boolean;
}

export interface PruneResult {
  /** Session ids whose workspaces were (or, dry run, would be) removed. */
  removed: string[];
  freed_bytes: number;
  dry_run: boolean;
}

export interface SessionEvent {
  session_id: string;
  /** Per session, 1, 2, 3 … without gaps: the resume point of one session's stream. */
  seq: number;
  /** Daemon-wide cursor: the resume point of the all-sessions stream. */
  gid: number;
  time: Timestamp;
  type: string;
  message: string;
  data: Record<string, unknown>;
}

export interface StartSessionInput {
  /** PRD path: absolute, or relative to the project (remote callers: inside the project only). */
  prd?: string;
  /** Inline prompt instead of a PRD file. */
  prompt?: string;
  /** script | openai | claude; empty = the daemon's `sessions.default_provider`. */
  provider?: string;
  /** Script provider: the JSON or YAML list of steps (the text, not a path). */
  plan?: string;
  profile?: string;
  autonomy?: string;
  /** Registered project id or name. */
  project?: string;
  /** Local admin socket only: the working tree, registered on first use. */
  project_path?: string;
  model?: string;
  /** openai: a free-form chat-completions URL (local admin socket, or exactly a configured upstream's). */
  base_url?: string;
  /** openai: a model upstream named in the daemon's `sessions.openai.upstreams`. */
  upstream?: string;
  max_iterations?: number;
  network?: boolean;
}

export interface SessionEventsOptions {
  /** Replay events with seq > after_seq (0 = from the start). */
  after_seq?: number;
  /** Keep streaming until the session ends (default false: replay and stop). */
  follow?: boolean;
  signal?: AbortSignal;
  /** Told each time the stream lost its connection and tries again (it resumes where it was: no gap, no repeat). */
  on_reconnect?: ReconnectListener;
}

export interface AllEventsOptions {
  /** Replay events with gid > after_gid. */
  after_gid?: number;
  follow?: boolean;
  signal?: AbortSignal;
  on_reconnect?: ReconnectListener;
}

export interface SessionMetrics {
  /** Non-terminal sessions plus the most recent terminal ones (bounded). */
  sessions: Session[];
  active: number;
  created_total: number;
  decisions: { allow: number; deny: number; ask: number };
  approvals_pending: number;
}

export interface DiffFileChange {
  path: string;
  insertions: number;
  deletions: number;
  binary: boolean;
}

export interface DiffCommit {
  sha: string;
  subject: string;
  author: string;
  date: string;
  files_changed: number;
}

export interface DiffSummary {
  session_id: string;
  branch: string;
  base_branch: string;
  base_commit: string;
  head_commit: string;
  descends_from_base: boolean;
  files_changed: number;
  insertions: number;
  deletions: number;
  files: DiffFileChange[];
  /** Oldest first. */
  commits: DiffCommit[];
  /** The last pull-request attempt (null before any): why none was opened and the commands to do it by hand. */
  pull_request: PullRequestResult | null;
}

export interface PullRequestResult {
  opened: boolean;
  url: string | null;
  /** Why no pull request was opened (null when opened). */
  reason: string | null;
  /** The same steps by hand, shell-quoted. */
  commands: string[];
}

export interface SessionPatch {
  session_id: string;
  base_commit: string;
  head_commit: string;
  /** Unified diff (`git diff base..head`), possibly cut at the daemon's size limit. */
  patch: string;
  truncated: boolean;
}

/** The session's git workspace (`loki session branch`). */
export interface Workspace {
  session_id: string;
  project_id: string;
  branch: string;
  base_branch: string;
  base_commit: string;
  head_commit: string | null;
  state: string;
  /** Host path; only meaningful to the daemon's host. */
  workspace: string;
  agent: string;
  owner: string;
  created_at: Timestamp;
  finished_at: Timestamp | null;
}

/** One line of the agent action trail (`.loki/logs/agent-audit.jsonl` format). */
export interface TrailEntry {
  session_id: string;
  seq: number;
  timestamp: Timestamp;
  action: string;
  agent: string;
  details: unknown;
}

export interface TrailQuery {
  /** Empty = every session the caller may see. */
  session_id?: string;
  /** 0 = all; otherwise the last N entries. */
  limit?: number;
}

export interface TrailCount {
  total: number;
  by_action: Record<string, number>;
  by_session: Record<string, number>;
}

// --------------------------------------------------------------- approvals


export interface Approval {
  id: string;
  session_id: string;
  status: string;
  /**
   * What will run if this is approved: a shell command exactly as the agent sent it (the
   * action hash covers this text), otherwise the normalized action (the resolved path, the
   * commit message, the phase). It comes from an untrusted agent: render it through
   * `escapeForDisplay` (common/) and never cut it where a human decides on it.
   */
  action: string;
  /**
   * The policy engine's analysis of the action (each command of a shell line, normalized).
   * Helpful to read beside `action`, never instead of it: it flattens what it looked into
   * (`sh -c '…'`, `$(…)`, `&&`) into one list of commands, and what it could not resolve is a
   * finding beside it (`curl … | sh`: the commands `curl … | sh` and `unresolved:interpreter-stdin`).
   */
  normalized: string;
  action_kind: string;
  action_hash: string;
  /** The rule or autonomy mode that asked. */
  asked_by: string;
  reason: string;
  requested_at: Timestamp | null;
  expires_at: Timestamp | null;
  decided_by: string | null;
  decided_at: Timestamp | null;
  comment: string | null;
  /** When the approved action was consumed (approvals are single-use). */
  used_at: Timestamp | null;
  /** Two-person rule: distinct approvals needed (1 = an ordinary approval). */
  approvals_required: number;
  /** Who approved so far; the approval is granted when there are `approvals_required` of them. */
  approvers: string[];
  /** The session's starter may not approve this action. */
  distinct_from_starter: boolean;
}

export interface ApprovalQuery {
  session_id?: string;
  /** Omitted or `all` = every status. */
  status?: ApprovalStatus | 'all';
}

export interface ApprovalEvent {
  type: 'pending' | 'requested' | 'decided' | 'expired' | 'consumed' | string;
  approval: Approval;
}

export interface WatchApprovalsOptions {
  session_id?: string;
  /** First send the approvals pending right now (type `pending`). */
  include_pending?: boolean;
  signal?: AbortSignal;
}
