// The one Loki client: every operator capability of the daemon's admin socket,
// with the same shapes whether it travels over gRPC (admin socket, or the
// gateway's socket / mTLS as the gateway's own daemon client) or over HTTPS to
// the gateway (base URL + token, JSON + SSE + WebSocket).
//
// Conventions every transport keeps:
// - Methods reject with a LokiError (common/) decoded by client/src/errors.ts;
//   nothing else escapes.
// - Streams are AsyncIterables of domain events. Leaving a `for await` loop (or
//   aborting the options' `signal`) cancels the call; a transport that loses
//   its connection resumes from the last event it delivered (session events by
//   seq, all-session events by gid, SSE by Last-Event-ID), so a consumer never
//   sees a gap or a duplicate.
// - Capabilities the transport cannot offer (building the sandbox image from a
//   remote machine, a daemon that does not serve an RPC yet) reject with a
//   LokiError that says so; they never hang or return fake data.
import type {
  AllEventsOptions,
  Approval,
  ApprovalEvent,
  ApprovalQuery,
  AuditEntry,
  AuditPage,
  AuditQuery,
  AuditSummary,
  AuditTailOptions,
  AuditVerification,
  BuildImageInput,
  BuildProgress,
  DiscoverInput,
  DiscoverResult,
  Learning,
  LearningsQuery,
  ListTasksQuery,
  ProjectHealth,
  ProjectSync,
  PruneBranchesResult,
  RegistryTask,
  DiffSummary,
  ExecOptions,
  ExecSession,
  GeneratedToken,
  GenerateTokenInput,
  OutputChunk,
  PolicyCheckInput,
  PolicyDecision,
  PolicyShow,
  Project,
  PullRequestResult,
  PruneResult,
  PruneSessionsInput,
  RegisterProjectInput,
  RemovedSession,
  Sandbox,
  SandboxLogsOptions,
  Session,
  SessionEvent,
  SessionEventsOptions,
  SessionMetrics,
  SessionPatch,
  StartSandboxInput,
  StartSessionInput,
  Status,
  StopSandboxInput,
  StopSandboxResult,
  Token,
  TrailCount,
  TrailEntry,
  TrailQuery,
  WatchApprovalsOptions,
  Workspace,
} from './types.js';
import type { SessionListOptions, SessionPage } from './session-pages.js';

export interface SessionsApi {
  /** Sessions the caller may see; active ones unless `all` (every page, followed). */
  list(opts?: { all?: boolean }): Promise<Session[]>;
  /** One page of `list`, oldest first. */
  listPage(opts?: SessionListOptions): Promise<SessionPage>;
  /** Every page of `list`, one at a time. */
  pages(opts?: Omit<SessionListOptions, 'page_token'>): AsyncIterable<Session[]>;
  get(id: string): Promise<Session>;
  start(input: StartSessionInput): Promise<Session>;
  /** Asks the runner to finish, then stops the sandbox. */
  stop(id: string): Promise<Session>;
  pause(id: string): Promise<Session>;
  /** Unfreezes a paused session; approves a pending staged-autonomy checkpoint (Loki Mode's meaning). */
  resume(id: string): Promise<Session>;
  /** Removes an ended session's workspace and container; the record, branch and audit trail stay. */
  remove(id: string): Promise<RemovedSession>;
  /** `remove` for every ended session the caller may control (optionally only older ones). */
  prune(input?: PruneSessionsInput): Promise<PruneResult>;
  /** One session's events from `after_seq`; with `follow`, until the session ends. */
  events(id: string, opts?: SessionEventsOptions): AsyncIterable<SessionEvent>;
  /** Every session the caller may see, from `after_gid`. */
  allEvents(opts?: AllEventsOptions): AsyncIterable<SessionEvent>;
  /** Diff summary of the session branch against its pinned base commit. */
  diff(id: string): Promise<DiffSummary>;
  /** The unified patch of the session branch against its base commit. */
  patch(id: string): Promise<SessionPatch>;
  /** Pushes the session branch and opens its pull request now (gh on the daemon's host); the result says why not, with the commands. */
  pullRequest(id: string): Promise<PullRequestResult>;
  /** The session's branch, base and workspace. */
  workspace(id: string): Promise<Workspace>;
  /** The agent action trail, oldest first. */
  trail(q?: TrailQuery): Promise<TrailEntry[]>;
  trailCount(q?: { session_id?: string }): Promise<TrailCount>;
  /** Counters behind the `loki_*` session metrics. */
  metrics(): Promise<SessionMetrics>;
}

export interface ApprovalsApi {
  list(q?: ApprovalQuery): Promise<Approval[]>;
  get(id: string): Promise<Approval>;
  /** Lets the exact pending action run once; resolves to the decided approval (what was approved, whole). */
  approve(id: string, opts?: { comment?: string }): Promise<Approval>;
  reject(id: string, opts?: { comment?: string }): Promise<Approval>;
  /** Approval lifecycle events (requested, decided, expired, consumed). */
  watch(opts?: WatchApprovalsOptions): AsyncIterable<ApprovalEvent>;
}

export interface SandboxesApi {
  list(opts?: { all?: boolean }): Promise<Sandbox[]>;
  start(input: StartSandboxInput): Promise<Sandbox>;
  /** By id or name. */
  status(id: string): Promise<Sandbox>;
  logs(id: string, opts?: SandboxLogsOptions): AsyncIterable<OutputChunk>;
  stop(id: string, opts?: StopSandboxInput): Promise<StopSandboxResult>;
  remove(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Runs a command (or, with empty argv and `tty`, an interactive shell); resolves once the call is accepted. */
  exec(id: string, opts: ExecOptions): Promise<ExecSession>;
  /** Builds (or reuses) the sandbox base image. Local admin socket only. */
  build(opts?: BuildImageInput): AsyncIterable<BuildProgress>;
}

export interface ProjectsApi {
  list(): Promise<Project[]>;
  register(input: RegisterProjectInput): Promise<Project>;
  /** By id, name or alias. */
  get(idOrName: string): Promise<Project>;
  remove(idOrName: string): Promise<void>;
  /** Git repositories under the roots (never following a symlink, never running repo content). */
  discover(input?: DiscoverInput): Promise<DiscoverResult>;
  health(idOrName: string): Promise<ProjectHealth>;
  /** Branches, last commit and session branches of one project, or of every project the caller sees. */
  sync(idOrName?: string): Promise<ProjectSync[]>;
  /** Session branches nobody needs (dry run unless `yes`); one project or every project the caller registered. */
  prune(idOrName?: string, opts?: { yes?: boolean }): Promise<PruneBranchesResult>;
}

export interface MemoryApi {
  /** Newest learnings first, across the projects the caller sees. */
  list(query?: LearningsQuery): Promise<Learning[]>;
  /** Ranked full-text search (exact phrase first). */
  search(q: string, query?: LearningsQuery): Promise<Learning[]>;
}

export interface TasksApi {
  /** Tasks sessions reported, across the projects the caller sees. */
  list(query?: ListTasksQuery): Promise<RegistryTask[]>;
}

export interface TokensApi {
  /** Active tokens unless `all` (revoked and expired too). */
  list(opts?: { all?: boolean }): Promise<Token[]>;
  generate(input: GenerateTokenInput): Promise<GeneratedToken>;
  revoke(nameOrId: string): Promise<Token>;
}

export interface AuditApi {
  query(q?: AuditQuery): Promise<AuditPage>;
  summary(range?: { since?: string; until?: string }): Promise<AuditSummary>;
  /** Checks the HMAC chain across every file. */
  verify(): Promise<AuditVerification>;
  /** The newest entries, then (with `follow`) new ones as they are written. */
  tail(opts?: AuditTailOptions): AsyncIterable<AuditEntry>;
}

export interface PolicyApi {
  /** How the daemon would decide an action; records nothing, creates no approval. */
  check(input: PolicyCheckInput): Promise<PolicyDecision>;
  /** `check` with the per-command breakdown (wrappers looked through, each command's rule). */
  explain(input: PolicyCheckInput): Promise<PolicyDecision>;
  /** Profiles, rules, paths and the autonomy mode; `profile` narrows to one. */
  show(opts?: { profile?: string }): Promise<PolicyShow>;
}

export interface TransportInfo {
  kind: 'grpc' | 'http';
  /** The admin socket path, the daemon address, or the gateway base URL. */
  target: string;
  tls: boolean;
}

export interface LokiClient {
  readonly transport: TransportInfo;
  /** Daemon status, plus the gateway's when the HTTP transport is in use. */
  status(): Promise<Status>;
  readonly sessions: SessionsApi;
  readonly approvals: ApprovalsApi;
  readonly sandboxes: SandboxesApi;
  readonly projects: ProjectsApi;
  readonly tasks: TasksApi;
  readonly memory: MemoryApi;
  readonly tokens: TokensApi;
  readonly audit: AuditApi;
  readonly policy: PolicyApi;
  /** Releases channels and sockets; open streams end. */
  close(): void;
}
