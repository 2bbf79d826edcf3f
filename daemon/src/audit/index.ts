// The daemon's audit log: file sink with HMAC chain, group commit, rotation,
// retention checkpoints, verification, queries and SIEM forwarding.
export { NOOP_AUDIT } from './types.js';
export type { AuditLog, AuditEventInput, AuditResult } from './types.js';
export { FileAuditLog } from './sink.js';
export type { FileAuditLogOptions, AuditSinkStats, AuditListener } from './sink.js';
export { verifyAuditLog } from './verify.js';
export type { VerifyResult } from './verify.js';
export { queryAuditLog, summarizeAuditLog, parseTime, MAX_QUERY_LIMIT } from './query.js';
export type { AuditQuery, AuditPage, AuditSummary } from './query.js';
export { SyslogForwarder, formatRfc5424 } from './syslog.js';
export type { SyslogForwarderOptions, SyslogProtocol, SyslogStats } from './syslog.js';
export { auditConfigSchema, auditEnvBindings } from './config.js';
export type { AuditConfig } from './config.js';
export { createAuditRuntime } from './runtime.js';
export type { AuditRuntime, AuditRuntimeOptions } from './runtime.js';
export { createAuditModule } from './grpc.js';
export { GATEWAY_ACTIONS, isGatewayReport } from './gateway-reports.js';
export type { AuditModuleDeps } from './grpc.js';
export { loadOrCreateKey } from './files.js';
export { ACTION_PATTERN, CHECKPOINT_ACTION, GENESIS_PREV } from './format.js';
export type { AuditEntry } from './format.js';
