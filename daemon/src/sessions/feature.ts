// Wires the session feature from its parts: policy (engine, approvals), the
// daemon's git parts (projects, workspaces, agent trail), agent channels and the
// SessionManager, and returns the gRPC modules to mount on the admin and gateway listeners.
import type { Logger, RuntimePaths } from '../../../common/src/index.js';
import { createAgentChannels } from '../agent/channels.js';
import type { AuditLog } from '../audit/types.js';
import type { ProjectRegistry } from '../git/projects.js';
import type { AgentTrail } from '../git/trail.js';
import type { WorkspaceManager } from '../git/workspaces.js';
import type { ServiceModule } from '../grpc/module.js';
import { ApprovalStore } from '../policy/approvals.js';
import { approvalRequirements, buildPolicyEngine, type PolicyConfigInput } from '../policy/config.js';
import { createPolicyModule } from '../policy/grpc.js';
import { PolicyService } from '../policy/service.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { SandboxMount } from '../sandbox/types.js';
import type { Db } from '../store/db.js';
import type { SessionsConfig } from './config.js';
import { createSessionsModule } from './grpc.js';
import { SessionManager } from './manager.js';

export interface SessionFeatureOptions {
  db: Db;
  paths: Pick<RuntimePaths, 'runDir' | 'workspacesDir'>;
  sandboxes: SandboxManager;
  audit: AuditLog;
  log: Logger;
  sessions: SessionsConfig;
  policy: PolicyConfigInput;
  /** The daemon's git parts (startDaemon builds them and mounts WorkspaceService itself). */
  git: { projects: ProjectRegistry; workspaces: WorkspaceManager; trail: AgentTrail };
  /** The agent-runner bundle mount (`agentRunnerMount`); omit when sessions.runner_command needs none. */
  runnerMount?: () => SandboxMount;
}

export interface SessionFeature {
  manager: SessionManager;
  policy: PolicyService;
  projects: ProjectRegistry;
  workspaces: WorkspaceManager;
  trail: AgentTrail;
  /** SessionService and PolicyService. */
  modules: ServiceModule[];
  /** Re-attaches to surviving sessions and starts the stall/idle/exit checks. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createSessionFeature(o: SessionFeatureOptions): SessionFeature {
  const { engine, config: policyCfg } = buildPolicyEngine(o.policy);
  const log = o.log;
  // The manager is built below; approvals need the session owner only at decision time (four-eyes).
  const owners: { of: (id: string) => string | undefined } = { of: () => undefined };
  const approvals = new ApprovalStore({
    db: o.db,
    log: log.child({ component: 'approvals' }),
    timeoutMs: policyCfg.approvals.timeout_seconds * 1000,
    onTimeout: policyCfg.approvals.on_timeout,
    fourEyes: policyCfg.approvals.four_eyes,
    ownerOf: (id) => owners.of(id),
    requirementFor: (() => {
      const byRule = approvalRequirements(policyCfg);
      return (askedBy: string) => byRule.get(askedBy);
    })(),
  });
  const policy = new PolicyService({ engine, approvals, audit: o.audit, log: log.child({ component: 'policy' }) });
  const { projects, workspaces, trail } = o.git;
  const manager = new SessionManager({
    db: o.db,
    sandboxes: o.sandboxes,
    createChannels: (hooks) => createAgentChannels({ runDir: o.paths.runDir, hooks, log, sandboxUser: o.sandboxes.sandboxUser }),
    workspacesDir: o.paths.workspacesDir,
    ...(o.runnerMount ? { runnerMount: o.runnerMount } : {}),
    projects,
    workspaces,
    trail,
    policy,
    audit: o.audit,
    config: o.sessions,
    log: log.child({ component: 'sessions' }),
  });
  owners.of = (id) => manager.store.get(id)?.owner;
  const hostWorkspaceOf = (id: string) => manager.store.get(id)?.workspace || undefined;
  const modules = [
    createSessionsModule({ manager }),
    createPolicyModule({ service: policy, ownerOf: owners.of, hostWorkspaceOf, config: policyCfg }),
  ];
  return {
    manager,
    policy,
    projects,
    workspaces,
    trail,
    modules,
    async start() {
      await manager.reconcile();
      manager.startChecks();
    },
    async close() {
      await manager.close();
      policy.close();
      approvals.close();
    },
  };
}
