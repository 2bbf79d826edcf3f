// Wires the session feature from parts the daemon built (sandbox manager, policy,
// the daemon's git parts): agent channels and the SessionManager, and returns
// the gRPC module to mount on the admin and gateway listeners.
import type { Logger, RuntimePaths } from '../../../common/src/index.js';
import { createAgentChannels } from '../agent/grpc-channels.js';
import type { ModelProxies } from '../agent/model-proxies.js';
import type { AuditLog } from '../audit/types.js';
import type { ProjectRegistry } from '../git/projects.js';
import type { AgentTrail } from '../git/trail.js';
import type { WorkspaceManager } from '../git/workspaces.js';
import type { ServiceModule } from '../grpc/module.js';
import type { PolicyFeature } from '../policy/feature.js';
import type { PolicyService } from '../policy/service.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { RunnerBundle } from '../sandbox/types.js';
import type { LearningRepo } from '../registry/learnings.js';
import type { SessionsConfig } from './config.js';
import { createSessionsModule } from './grpc.js';
import { SessionManager } from './manager.js';
import type { SessionRepo } from './repo.js';
import { isTerminal, sessionWorkspace } from './types.js';

export interface SessionFeatureOptions {
  /** The feature's repositories (store/sqlite/, built by the daemon). */
  repos: { sessions: SessionRepo; learnings: LearningRepo };
  paths: Pick<RuntimePaths, 'runDir' | 'workspacesDir'>;
  sandboxes: SandboxManager;
  audit: AuditLog;
  log: Logger;
  sessions: SessionsConfig;
  /** Built by the daemon (`createPolicyFeature`); the session feature tells it who owns a session. */
  policy: PolicyFeature;
  /** The daemon's git parts (startDaemon builds them and mounts WorkspaceService itself). */
  git: { projects: ProjectRegistry; workspaces: WorkspaceManager; trail: AgentTrail };
  /** The agent-runner bundle (`agentRunnerBundle`); omit when sessions.runner_command needs none. */
  runner?: RunnerBundle;
  /** The sessions' model proxies (built and closed by daemon.ts). */
  modelProxies: ModelProxies;
}

export interface SessionFeature {
  manager: SessionManager;
  policy: PolicyService;
  projects: ProjectRegistry;
  workspaces: WorkspaceManager;
  trail: AgentTrail;
  /** SessionService. */
  modules: ServiceModule[];
  /** Re-attaches to surviving sessions and starts the stall/idle/exit checks. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createSessionFeature(o: SessionFeatureOptions): SessionFeature {
  const log = o.log;
  const policy = o.policy.service;
  const { projects, workspaces, trail } = o.git;
  const manager = new SessionManager({
    repo: o.repos.sessions,
    learnings: o.repos.learnings,
    sandboxes: o.sandboxes,
    createChannels: (hooks) => createAgentChannels({ runDir: o.paths.runDir, hooks, log, carrier: o.sandboxes, sandboxUser: o.sandboxes.sandboxUser }),
    workspacesDir: o.paths.workspacesDir,
    ...(o.runner ? { runner: o.runner } : {}),
    proxies: o.modelProxies,
    waits: o.policy.waits,
    projects,
    workspaces,
    trail,
    policy,
    audit: o.audit,
    config: o.sessions,
    log: log.child({ component: 'sessions' }),
  });
  o.policy.bindSessions({
    ownerOf: async (id) => (await manager.store.get(id))?.owner,
    workspaceOf: async (id) => {
      const s = await manager.store.get(id);
      return s ? sessionWorkspace(s) : undefined;
    },
    settingsOf: async (id) => {
      const s = await manager.store.get(id);
      return s ? { profile: s.profile, autonomy: s.autonomy, ended: isTerminal(s.state) ? s.state : '' } : undefined;
    },
  });
  return {
    manager,
    policy,
    projects,
    workspaces,
    trail,
    modules: [createSessionsModule({ manager })],
    async start() {
      await manager.reconcile();
      manager.startChecks();
    },
    async close() {
      await manager.close();
    },
  };
}
