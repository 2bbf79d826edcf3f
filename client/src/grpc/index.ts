// The gRPC transport: the admin socket (local CLI and dashboards) and the
// gateway's daemon client (gateway socket or mutual-TLS TCP).
export { connectAdminSocket, adminSocketServing } from './admin.js';
export type { AdminSocketOptions } from './admin.js';
export { createDaemonClient, fromServiceError } from './daemon-client.js';
export type {
  AuditEntryInfo,
  AuditQueryInput,
  AuditRecordInput,
  AuditSummaryInfo,
  CallIdentity,
  CallObserver,
  DaemonClient,
  DaemonClientOptions,
  DaemonTarget,
  DaemonTlsMaterial,
  SessionEventHandlers,
  SessionEventStream,
  SessionsClient,
  TokenInfo,
  TokenVerification,
} from './daemon-client.js';
export { channelFor, metadataFor } from './daemon-client-wire.js';
export type { Channel } from './daemon-client-wire.js';
