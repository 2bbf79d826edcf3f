// The codecs between the value lists of vocab.ts and their proto enums, shared
// by both sides of the wire. Only types come from proto/gen (nothing generated
// runs here); what an unknown value means differs per side and lives there:
// daemon/src/grpc/vocab.ts (a request: INVALID_ARGUMENT) and
// client/src/grpc/vocab.ts (an answer: shown by name, or a clear client error).
import type { ApprovalStatus as PbApprovalStatus, PolicyDecision as PbDecision } from '../../proto/gen/loki/v1/policy.js';
import type { SandboxState as PbSandboxState } from '../../proto/gen/loki/v1/sandbox.js';
import type { SessionState as PbSessionState } from '../../proto/gen/loki/v1/sessions.js';
import type { AutonomyMode as PbAutonomyMode, Provider as PbProvider, TaskStatus as PbTaskStatus } from '../../proto/gen/loki/v1/vocab.js';
import {
  APPROVAL_STATUSES,
  AUTONOMY_MODES,
  DECISIONS,
  PROVIDERS,
  SANDBOX_STATES,
  SESSION_STATES,
  TASK_STATUSES,
  enumCodec,
  type ApprovalStatus,
  type AutonomyMode,
  type DecisionKind,
  type Provider,
  type SandboxState,
  type SessionState,
  type TaskStatus,
} from './vocab.js';

export const sessionStateCodec = enumCodec<SessionState, PbSessionState>(SESSION_STATES);
export const providerCodec = enumCodec<Provider, PbProvider>(PROVIDERS);
export const autonomyCodec = enumCodec<AutonomyMode, PbAutonomyMode>(AUTONOMY_MODES);
export const decisionCodec = enumCodec<DecisionKind, PbDecision>(DECISIONS);
export const sandboxStateCodec = enumCodec<SandboxState, PbSandboxState>(SANDBOX_STATES);
export const approvalStatusCodec = enumCodec<ApprovalStatus, PbApprovalStatus>(APPROVAL_STATUSES);
export const taskStatusCodec = enumCodec<TaskStatus, PbTaskStatus>(TASK_STATUSES);
