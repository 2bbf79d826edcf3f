// Loki's domain types: what every operator surface (CLI, Ink dashboard, web
// dashboard) works with, whichever transport carried them. They are the JSON the
// HTTP API returns (snake_case, timestamps as ISO 8601 UTC strings, `null` for
// "not set"), so the HTTP transport passes bodies through and the gRPC transport
// converts generated messages into exactly these shapes (client/src/grpc/convert*.ts).
// Binary payloads (logs, exec output) are the one exception: Uint8Array here,
// base64 or WebSocket binary frames on the HTTP wire.

/** ISO 8601 UTC, e.g. `2026-12-04T05:00:00.000Z`. */
export type Timestamp = string;

// ---------------------------------------------------------------- sessions

export type SessionState = 'pending' | 'starting' | 'running' | 'paused' | 'waiting_approval' | 'completed' | 'failed' | 'stopped';
export const TERMINAL_SESSION_STATES: readonly string[] = ['completed', 'failed', 'stopped'];

export type TaskStatus = 'pending' | 'in_progress' | 'completed' | 'failed';

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
}

export interface AllEventsOptions {
  /** Replay events with gid > after_gid. */
  after_gid?: number;
  follow?: boolean;
  signal?: AbortSignal;
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

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface Approval {
  id: string;
  session_id: string;
  status: string;
  /**
   * The normalized action exactly as the policy engine hashed it. It comes from
   * an untrusted agent: render it through `escapeForDisplay` (common/) and never
   * cut it where a human decides on it.
   */
  action: string;
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

// --------------------------------------------------------------- sandboxes

export interface Hardening {
  user: string;
  read_only_rootfs: boolean;
  cap_drop: string[];
  no_new_privileges: boolean;
  seccomp_profile: string;
  network_mode: string;
  memory_bytes: number;
  cpus: number;
  pids: number;
  privileged: boolean;
}

export interface Sandbox {
  id: string;
  name: string;
  /** created | running | paused | exited | dead | missing */
  state: string;
  owner: string;
  project: string;
  session: string;
  image: string;
  created_at: Timestamp | null;
  /** Host path of the bind-mounted workspace. */
  workspace: string;
  exit_code: number;
  hardening: Hardening | null;
}

export interface StartSandboxInput {
  name?: string;
  project?: string;
  image?: string;
  /** Main process argv; empty = an idle shell loop. */
  command?: string[];
  env?: Record<string, string>;
  limits?: { memory_bytes?: number; cpus?: number; pids?: number };
  relax?: { network?: boolean; writable_rootfs?: boolean; root_user?: boolean };
}

export interface StopSandboxInput {
  /** Grace period before SIGKILL; 0 = the configured default. */
  timeout_seconds?: number;
  /** Keep the stopped container (default: remove it). */
  keep?: boolean;
}

export interface StopSandboxResult {
  sandbox: Sandbox;
  removed: boolean;
}

export interface SandboxLogsOptions {
  follow?: boolean;
  /** Only the last N lines (0 = all). */
  tail?: number;
  timestamps?: boolean;
  signal?: AbortSignal;
}

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

export interface ExecOptions {
  /** Empty = the sandbox's login shell. */
  argv: string[];
  tty?: boolean;
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  /** Default /workspace. */
  workdir?: string;
}

export type ExecOutput = OutputChunk | { stream: 'exit'; exit_code: number };

/** A running exec/shell: iterate its output; the last item is `{ stream: 'exit' }`. */
export interface ExecSession extends AsyncIterable<ExecOutput> {
  write(data: Uint8Array | string): void;
  resize(cols: number, rows: number): void;
  closeStdin(): void;
  /** Ends the call; the iteration then finishes without an exit item. */
  cancel(): void;
}

export interface BuildImageInput {
  tag?: string;
  force?: boolean;
  with_claude?: boolean;
  claude_version?: string;
  signal?: AbortSignal;
}

export interface BuildProgress {
  phase: string;
  message: string;
  percent: number;
  /** Set on the final (`done`) message. */
  image_id: string;
  reused: boolean;
}

// ---------------------------------------------------------------- projects

export interface Project {
  id: string;
  name: string;
  /** Real path of the repository top level on the daemon's host. */
  path: string;
  base_branch: string;
  remote: string | null;
  protected_branches: string[];
  registered_by: string;
  registered_at: Timestamp | null;
  /** A second name the project answers to, or null. */
  alias: string | null;
  /** Visible to every reader by the daemon's configuration (git.shared_projects). */
  shared: boolean;
}

export interface RegisterProjectInput {
  /** Absolute path (on the daemon's host) of a non-bare repository's top level. */
  path: string;
  name?: string;
  alias?: string;
  base_branch?: string;
  remote?: string;
  protected_branches?: string[];
}

export interface DiscoverInput {
  /** Absolute paths on the daemon's host; empty = the daemon's git.registry_roots. */
  roots?: string[];
  /** Directory levels below each root (default 3, at most 8). */
  depth?: number;
  /** Register every repository found that is not registered yet. */
  register?: boolean;
}

export interface DiscoveredRepo {
  path: string;
  root: string;
  /** Set when the repository is (or was just) a project the caller sees. */
  project_id: string | null;
  project_name: string | null;
  /** Why registering it failed. */
  error: string | null;
}

export interface DiscoverResult {
  repos: DiscoveredRepo[];
  /** Symlinks met on the walk; they are never followed. */
  skipped_symlinks: string[];
  truncated: boolean;
}

export type HealthStatus = 'ok' | 'warn' | 'fail';

export interface ProjectHealth {
  project: Project;
  status: HealthStatus;
  /** repo_readable, base_branch, working_tree, remote, last_session, sandbox_image. */
  checks: { name: string; status: HealthStatus; detail: string }[];
}

export interface ProjectSync {
  project_id: string;
  project_name: string;
  branches: number;
  last_commit: string | null;
  last_commit_subject: string | null;
  last_commit_at: Timestamp | null;
  /** `loki/session-*` branches still in the project. */
  session_branches: string[];
  error: string | null;
}

export interface PruneBranchesResult {
  /** True unless `yes` was given: nothing was deleted. */
  dry_run: boolean;
  projects: {
    project_id: string;
    project_name: string;
    /** Session branches that are merged, identical to their base, or of sessions the daemon no longer knows. */
    branches: { branch: string; commit: string; reason: 'merged' | 'identical' | 'removed_session'; deleted: boolean; error: string | null }[];
    error: string | null;
  }[];
}

export interface RegistryTask {
  session_id: string;
  task_id: string;
  status: TaskStatus;
  project_id: string;
  project_name: string;
  owner: string;
  session_state: string;
  session_created_at: Timestamp | null;
}

export interface Learning {
  id: number;
  session_id: string;
  project_id: string;
  project_name: string;
  text: string;
  tags: string[];
  created_at: Timestamp | null;
  /** Search only: `phrase` (the exact phrase occurs) ranks before `terms` (every term occurs). */
  match: 'phrase' | 'terms' | null;
}

export interface LearningsQuery {
  /** Project id, name or alias. */
  project?: string;
  limit?: number;
}

export interface ListTasksQuery {
  status?: TaskStatus;
  /** Project id, name or alias. */
  project?: string;
  limit?: number;
}

// ------------------------------------------------------------------ tokens

export interface Token {
  id: string;
  name: string;
  scopes: string[];
  role: string | null;
  owner: string;
  status: 'active' | 'revoked' | 'expired';
  created_at: Timestamp | null;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

export interface GenerateTokenInput {
  name: string;
  scopes?: string[];
  role?: string;
  /** 0/omitted = the daemon's default; -1 = never expires. */
  expires_days?: number;
}

export interface GeneratedToken {
  token: Token;
  /** `loki_…`, shown once, never stored. */
  secret: string;
}

// ------------------------------------------------------------------- audit

export interface AuditEntry {
  timestamp: Timestamp;
  action: string;
  user: string;
  resource: string;
  details: Record<string, unknown>;
  ip: string;
  result: string;
  reason?: string;
  request_id: string;
  seq: number;
}

export interface AuditQuery {
  /** 1..1000, default 100. */
  limit?: number;
  action?: string;
  user?: string;
  result?: string;
  since?: string;
  until?: string;
  /** 0/omitted = newest; else entries with seq < cursor. */
  cursor?: number;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  next_cursor: number | null;
}

export interface AuditSummary {
  since: Timestamp;
  until: Timestamp;
  total: number;
  by_action: Record<string, number>;
  by_user: Record<string, number>;
  by_result: Record<string, number>;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  files: number;
  last_seq?: number;
  last_mac?: string;
  /** Where the chain broke (when !ok). */
  file?: string;
  line?: number;
  seq?: number;
  reason?: string;
}

export interface AuditTailOptions {
  /** Existing entries to send first (1..1000, default 20). */
  last?: number;
  action?: string;
  follow?: boolean;
  signal?: AbortSignal;
}

// ------------------------------------------------------------------ policy

export type PolicyAction =
  | { kind: 'shell'; command: string }
  | { kind: 'write' | 'read' | 'delete'; path: string }
  | { kind: 'commit'; message: string }
  | { kind: 'phase'; name: string };

export type Decision = 'allow' | 'deny' | 'ask' | 'unknown';

export interface PolicyCheckInput {
  action: PolicyAction;
  profile?: string;
  /** Decide as this session (its workspace and ownership). */
  session_id?: string;
  cwd?: string;
}

export interface CommandDecision {
  normalized: string;
  /** Wrappers looked through: sudo, bash -c, find -exec … */
  via: string[];
  decision: Decision;
  rule: string;
  reason: string;
}

export interface PolicyDecision {
  decision: Decision;
  rule: string;
  reason: string;
  normalized: string;
  action_hash: string;
  profile: string;
  mode: string;
  /** Per simple command (explain); empty for a path action. */
  commands: CommandDecision[];
}

export interface PolicyRule {
  id: string;
  effect: string;
  pattern: string;
  reason: string;
}

export interface PolicyProfile {
  name: string;
  description: string;
  default_decision: string;
  fail_closed: string;
  writes: string;
  commit: string;
  mode: string;
  rules: PolicyRule[];
}

export interface PolicyShow {
  default_profile: string;
  mode: string;
  profiles: PolicyProfile[];
  allowed_paths: string[];
  protected_paths: string[];
  approval_timeout_seconds: number;
  on_timeout: string;
  four_eyes: boolean;
}

// ------------------------------------------------------------------ status

export interface DaemonStatus {
  version: string;
  started_at: Timestamp;
  uptime_seconds: number;
  docker: { reachable: boolean; version: string };
  base_image: { name: string; present: boolean };
  /** sandbox.runtime (runc | runsc) and whether Docker has it registered. */
  sandbox_runtime: { name: string; registered: boolean };
  sandboxes: { running: number; paused: number; exited: number; total: number };
}

export interface GatewayStatus {
  url: string;
  tls: boolean;
  version: string;
  auth: 'enabled' | 'disabled';
  /** `/healthz/ready` answered 200. */
  ready: boolean;
}

export interface Status {
  daemon: DaemonStatus;
  /** null when the client talks to the admin socket directly. */
  gateway: GatewayStatus | null;
  caller: { role: string; subject: string; scopes: string[] };
}

// ------------------------------------------------------------------ errors

/** The HTTP error body, `{"error":{"code","message","request_id"}}` (docs/errors.md). */
export interface ErrorBody {
  error: { code: string; message: string; request_id?: string };
}
