// The audit seam every daemon feature emits into. The implementation (file sink
// with HMAC chain, group commit, syslog forwarding) lives beside this file.

export type AuditResult = 'success' | 'denied' | 'error';

export interface AuditEventInput {
  /** e.g. `sandbox.start`, `token.generate`, `policy.deny` (see docs/audit-logging.md). */
  action: string;
  /** `token:<name>` | `oidc:<sub>` | `local:<uid>` | `session:<id>` | `system`. */
  user: string;
  /** e.g. `sandbox:sbx-…`, `session:…`, `token:tok-…`. */
  resource: string;
  details?: Record<string, unknown>;
  ip?: string;
  result: AuditResult;
  /** Why it was denied or failed (required when result is not success). */
  reason?: string;
  request_id?: string;
}

export interface AuditLog {
  /**
   * Resolves once the entry is durably on disk (or audit is disabled). Rejects
   * with `invalid_argument` for a malformed event and `unavailable` when the log
   * is closed or the write failed: the action it records is then not acknowledged.
   */
  record(event: AuditEventInput): Promise<void>;
}

/** Used where audit is disabled (LOKI_AUDIT_DISABLED=true) and in unit tests that do not look at audit. */
export const NOOP_AUDIT: AuditLog = { record: async () => {} };
