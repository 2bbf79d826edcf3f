// Builds the policy feature (engine, approvals, PolicyService, its gRPC module)
// for the daemon's composition root. Approvals and the gRPC module need to know
// who owns a session and where its workspace is; the session feature, built
// after this one, answers through `bindSessions`.
import type { Logger } from '../../../common/src/index.js';
import type { AuditLog } from '../audit/types.js';
import type { ServiceModule } from '../grpc/module.js';
import { ApprovalWaits } from './approval-waits.js';
import { ApprovalStore, type ApprovalRepo } from './approvals.js';
import { approvalRequirements, buildPolicyEngine, type PolicyConfig, type PolicyConfigInput } from './config.js';
import { createPolicyModule, type SessionSettings, type SessionWorkspace } from './grpc.js';
import { PolicyService } from './service.js';

export interface PolicyFeatureOptions {
  /** Where approvals are kept (store/sqlite/approvals.ts). */
  approvals: ApprovalRepo;
  audit: AuditLog;
  log: Logger;
  config: PolicyConfigInput;
}

/** What the policy needs to know of sessions (answered by the session feature). */
export interface SessionLookups {
  ownerOf(sessionId: string): Promise<string | undefined>;
  /** The session's workspace (sandbox path, host directory): what its agent channel decides against. */
  workspaceOf(sessionId: string): Promise<SessionWorkspace | undefined>;
  settingsOf(sessionId: string): Promise<SessionSettings | undefined>;
}

export interface PolicyFeature {
  service: PolicyService;
  config: PolicyConfig;
  /** PolicyService (check, explain, approvals). */
  module: ServiceModule;
  /** Decides waiting for a human, per session (the session lifecycle cancels a session's on stop). */
  waits: ApprovalWaits;
  bindSessions(lookups: SessionLookups): void;
  close(): void;
}

export function createPolicyFeature(o: PolicyFeatureOptions): PolicyFeature {
  const { engine, config } = buildPolicyEngine(o.config);
  // Until the session feature binds itself, no session is known (nothing can ask yet: no listener is up).
  let sessions: SessionLookups = { ownerOf: () => Promise.resolve(undefined), workspaceOf: () => Promise.resolve(undefined), settingsOf: () => Promise.resolve(undefined) };
  const byRule = approvalRequirements(config);
  const approvals = new ApprovalStore({
    repo: o.approvals,
    log: o.log.child({ component: 'approvals' }),
    timeoutMs: config.approvals.timeout_seconds * 1000,
    onTimeout: config.approvals.on_timeout,
    fourEyes: config.approvals.four_eyes,
    // The session owner is needed only at decision time (four-eyes).
    ownerOf: (id) => sessions.ownerOf(id),
    requirementFor: (askedBy) => byRule.get(askedBy),
  });
  const service = new PolicyService({ engine, approvals, audit: o.audit, log: o.log.child({ component: 'policy' }) });
  const waits = new ApprovalWaits();
  const module = createPolicyModule({ service, ownerOf: (id) => sessions.ownerOf(id), workspaceOf: (id) => sessions.workspaceOf(id), settingsOf: (id) => sessions.settingsOf(id), config });
  return {
    service,
    config,
    module,
    waits,
    bindSessions(lookups) {
      sessions = lookups;
    },
    close() {
      waits.cancelAll();
      service.close();
      approvals.close();
    },
  };
}
