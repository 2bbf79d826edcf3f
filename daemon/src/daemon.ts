// Wires lokid from its parts: config → store (repositories) → ports (Docker, audit) → services
// → listeners. `startDaemon` is used by main.ts and, with temp dirs, by tests.
import type { Server } from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, runtimePaths, toLokiError, type Logger, type RuntimePaths } from '../../common/src/index.js';
import { createAuditModule, createAuditRuntime, type AuditRuntime } from './audit/index.js';
import { loadDaemonConfig, seccompProfilePath, type DaemonConfig } from './config.js';
import { createHealthModule, HealthState } from './grpc/health.js';
import { ensureHome, ensurePrivateDir } from './home-dirs.js';
import type { ServiceModule } from './grpc/module.js';
import { createSandboxModule } from './sandbox/grpc.js';
import { createSystemModule } from './system/grpc.js';
import { listenTcp, listenUnix, refuseRunningDaemon, shutdownServer } from './grpc/listeners.js';
import { CALL_SLOTS, STREAM_SLOTS, SubjectSlots } from './grpc/subject-slots.js';
import { createBatchModule } from './grpc/batch.js';
import { OidcVerifier, createCredentialVerifier } from './auth/index.js';
import type { GatewayTrust } from './grpc/caller.js';
import { createPolicyFeature, type PolicyFeature } from './policy/feature.js';
import { agentDirFor } from './agent/grpc-channels.js';
import { AGENT_DIR_IN_SANDBOX, DockerSandboxDriver } from './sandbox/docker-driver.js';
import { SandboxManager } from './sandbox/manager.js';
import { POOL_CALLER, SandboxPool } from './sandbox/pool.js';
import { PoolAwareDriver } from './sandbox/pool-driver.js';
import type { SandboxDriver, SandboxInfo } from './sandbox/types.js';
import { openSqliteStore } from './store/sqlite/index.js';
import type { LearningRepo } from './registry/learnings.js';
import type { SessionDirectory, SessionRepo } from './sessions/repo.js';
import { TokenStore, createTokenModule, ensureBootstrapAdminToken } from './tokens/index.js';
import { AgentTrail, ProjectRegistry, WorkspaceManager, createWorkspaceModule } from './git/index.js';
import { WorkspaceSeeds } from './git/workspace-fill.js';
import { AGENT_RUNNER_IN_SANDBOX, agentRunnerBundle, stageRunnerBundle } from './agent/index.js';
import { ModelProxies } from './agent/model-proxies.js';
import { createSessionFeature } from './sessions/feature.js';
import { checkDaemonConfig } from './preflight.js';

export interface StartDaemonOptions {
  /** LOKI_HOME for this daemon (overrides env). */
  home?: string;
  env?: NodeJS.ProcessEnv;
  configFile?: string;
  logLevel?: string;
  logger?: Logger;
  /** Extra config overrides (tests). */
  overrides?: Record<string, unknown>;
  /** Extra features built on the daemon's parts (sessions: `createSessionFeature`); their modules join every listener. */
  features?: (base: FeatureBase) => DaemonFeature;
}

/** The repositories of the features built by `features` (the daemon's own parts get theirs directly). */
export interface FeatureRepos {
  sessions: SessionRepo & SessionDirectory;
  learnings: LearningRepo;
}

export interface FeatureBase {
  repos: FeatureRepos;
  paths: RuntimePaths;
  manager: SandboxManager;
  driver: SandboxDriver;
  policy: PolicyFeature;
  /** The sessions' host-side model proxies; the daemon closes them all when it stops. */
  modelProxies: ModelProxies;
  audit: AuditRuntime['audit'];
  log: Logger;
  config: DaemonConfig;
  git: { projects: ProjectRegistry; workspaces: WorkspaceManager; trail: AgentTrail };
}

export interface DaemonFeature {
  modules: ServiceModule[];
  /** After the listeners are up (re-attach to running work). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface DaemonHandle {
  config: DaemonConfig;
  paths: RuntimePaths;
  log: Logger;
  manager: SandboxManager;
  /** The warm sandbox pool, when sandbox.pool.size > 0. */
  pool?: SandboxPool;
  tokens: TokenStore;
  audit: AuditRuntime;
  tcpPort?: number;
  close(): Promise<void>;
}

/** Daemons sharing one Docker engine see only their own sandboxes: the instance id is derived from LOKI_HOME. */
export function instanceId(home: string): string {
  return createHash('sha256').update(realpathSync(home)).digest('hex').slice(0, 16);
}

export async function startDaemon(opts: StartDaemonOptions = {}): Promise<DaemonHandle> {
  const env = { ...(opts.env ?? process.env), ...(opts.home ? { LOKI_HOME: opts.home } : {}) };
  const config = loadDaemonConfig({ env, ...(opts.configFile ? { configFile: opts.configFile } : {}), ...(opts.overrides ? { overrides: opts.overrides } : {}) });
  const log = opts.logger ?? createLogger({ name: 'lokid', level: opts.logLevel ?? config.log_level, pretty: Boolean(process.stderr.isTTY) });
  const paths = runtimePaths(config.home, config.sockets.dir);
  // Everything that would refuse this start is checked before the first directory, key or token is made.
  checkDaemonConfig(config, env);
  await refuseRunningDaemon([paths.adminSocket, paths.gatewaySocket]);
  ensureHome(config.home);
  for (const d of [paths.stateDir, paths.workspacesDir]) ensurePrivateDir(d, log);
  // Made by the audit log when it is on; an existing one is checked and tightened either way.
  ensurePrivateDir(paths.auditDir, log, { create: false });
  mkdirSync(paths.runDir, { recursive: true, mode: 0o755 });
  const startedAtMs = Date.now();

  const store = openSqliteStore(join(paths.stateDir, 'loki.db'));
  const repos: FeatureRepos = { sessions: store.sessions, learnings: store.learnings };
  const auditRuntime = await createAuditRuntime({ config: config.audit, home: config.home, log });
  const audit = auditRuntime.audit;
  const runner = config.sandbox.runner_in_home ? stageRunnerBundle(agentRunnerBundle(), join(config.home, 'agent-runner')) : agentRunnerBundle();
  // Everything above the pool sees sandboxes through PoolAwareDriver: unclaimed slots are nobody's.
  const driver: PoolAwareDriver = new PoolAwareDriver(
    new DockerSandboxDriver({
      socketPath: config.docker.socket,
      instance: instanceId(config.home),
      build: { workDir: join(config.home, 'build'), log: log.child({ component: 'image-builder' }), ...(config.sandbox.debootstrap_mirror ? { mirror: config.sandbox.debootstrap_mirror } : {}) },
    }),
    (): SandboxPool | undefined => pool);
  const pool: SandboxPool | undefined = config.sandbox.pool.size
    ? new SandboxPool({
        config: config.sandbox,
        poolDir: join(config.home, 'pool'),
        agentDirInSandbox: AGENT_DIR_IN_SANDBOX,
        agentDir: (sessionId) => agentDirFor(paths.runDir, sessionId),
        command: config.sessions.runner_command,
        preload: AGENT_RUNNER_IN_SANDBOX,
        runner,
        start: (req): Promise<SandboxInfo> => manager.start(POOL_CALLER, req),
        listAll: () => driver.listAll(),
        get: (id) => driver.getRaw(id),
        remove: (id) => driver.removeRaw(id),
        audit,
        log: log.child({ component: 'sandbox-pool' }),
        ...(config.sessions.workspace.max_size && config.sessions.workspace.enforce !== 'watch'
          ? { volume: { workspacesDir: paths.workspacesDir, maxBytes: config.sessions.workspace.max_size, seeds: new WorkspaceSeeds({ dir: join(config.home, 'pool', 'seeds'), log: log.child({ component: 'workspace-seeds' }) }) } }
          : {}),
      })
    : undefined;
  const manager: SandboxManager = new SandboxManager({
    driver,
    config: config.sandbox,
    seccompPath: seccompProfilePath(config.sandbox),
    workspacesDir: paths.workspacesDir,
    audit,
    log: log.child({ component: 'sandbox' }),
    ...(pool && !pool.disabled ? { pool } : {}),
  });
  // Docker not running is an operator's situation, not a bug: say so in one line (no stack trace).
  await manager.reconcile().catch((err: unknown) => {
    const e = toLokiError(err);
    if (e.kind === 'unavailable') log.warn({ code: e.code, reason: e.message, docker_socket: config.docker.socket }, 'could not list existing sandboxes (is dockerd running?); sessions and sandboxes fail until Docker is reachable');
    else log.warn({ err }, 'could not list existing sandboxes');
  });
  await pool?.start().catch((err: unknown) => log.warn({ err }, 'could not start the warm sandbox pool; sessions start cold'));

  const tokens = new TokenStore({ repo: store.tokens, config: config.tokens, log });

  const projects = new ProjectRegistry({ repo: store.projects, log });
  const trail = new AgentTrail({ dir: join(paths.stateDir, 'trails') });
  // Workspaces belong to the sandbox user (unless git.workspace_uid says otherwise).
  const sbx = manager.sandboxUser;
  const gitConfig = { ...config.git, workspace_uid: config.git.workspace_uid ?? sbx.uid, workspace_gid: config.git.workspace_gid ?? sbx.gid };
  const workspaces = new WorkspaceManager({ repo: store.workspaces, projects, trail, log, workspacesDir: paths.workspacesDir, config: gitConfig });
  const git = { projects, workspaces, trail };
  const policy = createPolicyFeature({ approvals: store.approvals, audit, log, config: config.policy });
  const modelProxies = new ModelProxies({ owner: manager.sandboxUser, log });

  // Sessions (with the policy engine and approvals) are a feature on these parts;
  // tests may swap in their own runner command through `features`.
  const makeFeature =
    opts.features ??
    ((b: FeatureBase) =>
      createSessionFeature({ ...b, sandboxes: b.manager, sessions: config.sessions, runner }));
  const extra = makeFeature({ repos, paths, manager, driver, policy, modelProxies, audit, log, config, git });
  const features: ServiceModule[] = [
    ...extra.modules,
    policy.module,
    createTokenModule({ store: tokens, audit }),
    createAuditModule({ runtime: auditRuntime }),
    createWorkspaceModule({ projects, workspaces, trail, audit, stores: { sessions: store.sessions, learnings: store.learnings }, imagePresent: () => driver.imageExists(config.sandbox.image) }),
    createSystemModule({ driver, manager, baseImage: config.sandbox.image, runtime: config.sandbox.runtime, startedAtMs, statusTtlMs: config.sandbox.status_cache_ms, ...(pool ? { pool: () => pool.status() } : {}) }),
    createSandboxModule({
      manager,
      log: log.child({ component: 'sandbox-service' }),
      build: async (req, onEvent, signal) => {
        const tag = req.tag || (req.claudeVersion ? config.sessions.claude_image : config.sandbox.image);
        await manager.buildImage({ ...req, tag }, onEvent, signal);
      },
    }),
    // Last: it runs the unary methods the modules above registered on the same door.
    createBatchModule(),
  ];
  // The gateway door verifies every forwarded credential itself (token store, OIDC JWKS).
  const oidc = config.auth.oidc.issuer ? new OidcVerifier({ config: config.auth.oidc, log: log.child({ component: 'auth' }) }) : undefined;
  const trust: GatewayTrust = {
    verifier: createCredentialVerifier({ tokens, ...(oidc ? { oidc } : {}) }),
    anonymousRole: config.auth.gateway_anonymous_role,
    streams: new SubjectSlots(config.auth.gateway_max_streams_per_subject, STREAM_SLOTS),
    calls: new SubjectSlots(config.auth.gateway_max_calls_per_subject, CALL_SLOTS),
  };
  const health = new HealthState(features.map((f) => f.name));
  const modules = [createHealthModule(health), ...features];
  const grpcLog = log.child({ component: 'grpc' });
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;

  const servers: Server[] = [];
  let tcpPort: number | undefined;
  try {
    servers.push(
      await listenUnix({
        path: paths.adminSocket,
        mode: parseInt(config.sockets.admin_mode, 8),
        ...(config.sockets.admin_group ? { group: config.sockets.admin_group } : {}),
        identity: { role: 'local-admin', localUid: uid },
        modules,
        log: grpcLog,
      }),
    );
    servers.push(
      await listenUnix({
        path: paths.gatewaySocket,
        mode: parseInt(config.sockets.gateway_mode, 8),
        ...(config.sockets.gateway_group ? { group: config.sockets.gateway_group } : {}),
        identity: { role: 'gateway' },
        modules,
        log: grpcLog,
        trust,
      }),
    );
    if (config.tcp.listen) {
      const t = await listenTcp({
        listen: config.tcp.listen,
        cert: config.tcp.cert!,
        key: config.tcp.key!,
        clientCa: config.tcp.client_ca!,
        gatewayNames: config.tcp.gateway_names,
        modules,
        log: grpcLog,
        trust,
      });
      servers.push(t.server);
      tcpPort = t.port;
    }
  } catch (err) {
    for (const s of servers) s.forceShutdown();
    await extra.close();
    await modelProxies.closeAll();
    policy.close();
    await tokens.close();
    await auditRuntime.close();
    store.close();
    throw err;
  }
  // First run: an admin token for the local CLI, written 0600 to $LOKI_HOME/cli-token
  // (`loki up` prints it once). Nothing happens when an admin token already exists.
  // Made once the doors are open (and before health says SERVING, which `loki up` waits
  // for), so a start that fails to listen leaves no secret behind.
  // Audited like any token; when the audit log cannot be written (a full or read-only disk, which
  // lokid reports at start and survives), no token is made now: it is made at the next start.
  let bootstrapAuditError: unknown;
  const bootstrapAudit = (t: { id: string; name: string; owner: string }) =>
    audit
      .record({ action: 'token.generate', user: t.owner, resource: `token:${t.id}`, result: 'success', details: { name: t.name, role: 'admin', scopes: ['*'], expires_days: -1, bootstrap: true, file: paths.cliTokenFile } })
      .catch((err: unknown) => {
        bootstrapAuditError = err;
        throw err;
      });
  try {
    if (await ensureBootstrapAdminToken(tokens, paths.cliTokenFile, { audit: bootstrapAudit })) log.info({ file: paths.cliTokenFile }, 'created the bootstrap admin token');
  } catch (err) {
    if (err !== bootstrapAuditError) throw err;
    log.error({ err, file: paths.cliTokenFile }, 'the first-run admin token was not created: its audit entry could not be written; it is made at the next start once the audit log is writable');
  }
  await extra.start();
  health.setAll(true);
  log.info({ admin: paths.adminSocket, gateway: paths.gatewaySocket, tcp: tcpPort }, 'lokid listening');

  let closed = false;
  return {
    config,
    paths,
    log,
    manager,
    ...(pool ? { pool } : {}),
    tokens,
    audit: auditRuntime,
    ...(tcpPort !== undefined ? { tcpPort } : {}),
    async close() {
      if (closed) return;
      closed = true;
      health.setAll(false);
      await Promise.all(servers.map((s) => shutdownServer(s, 5000)));
      await extra.close();
      await modelProxies.closeAll();
      // Ready slots go with the daemon; a restarted one builds fresh slots.
      await pool?.close();
      policy.close();
      await tokens.close();
      await auditRuntime.close();
      store.close();
    },
  };
}
