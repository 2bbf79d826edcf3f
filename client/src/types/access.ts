// Tokens, audit, policy, status and the HTTP error body (client/src/types.ts re-exports these).
import type { Timestamp } from './common.js';

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
  /** Decide as this session (its profile unless one is named, its autonomy mode, workspace and ownership). */
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

export interface SandboxDriverStatus {
  name: string;
  reachable: boolean;
  version: string;
  can_pause: boolean;
}

export interface DaemonStatus {
  version: string;
  started_at: Timestamp;
  uptime_seconds: number;
  /** The backend that runs sandboxes (`docker` today), driver-neutral: whether the daemon reaches it, its version, whether it can pause. */
  sandbox_driver: SandboxDriverStatus;
  /**
   * @deprecated The same facts as `sandbox_driver` (reachable, version), kept in the HTTP API for
   * existing API clients; Loki's own surfaces read `sandbox_driver`.
   */
  docker: { reachable: boolean; version: string };
  base_image: { name: string; present: boolean };
  /** sandbox.runtime (runc | runsc) and whether Docker has it registered. */
  sandbox_runtime: { name: string; registered: boolean };
  sandboxes: { running: number; paused: number; exited: number; total: number };
  /** The warm pool (sandbox.pool.size; 0 = off): ready slots, and why it is off when it cannot run. */
  sandbox_pool?: { size: number; ready: number; disabled: string };
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
