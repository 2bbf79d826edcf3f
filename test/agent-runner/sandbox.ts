// Runs the bundled agent-runner as the main process of a real hardened sandbox,
// wired to a real AgentChannels with recording hooks.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { agentRunnerBundle, createAgentChannels, ModelProxies } from '../../daemon/src/agent/index.js';
import type { AgentChannel, AgentChannels } from '../../daemon/src/agent/types.js';
import type { Caller } from '../../daemon/src/authz/caller.js';
import { seccompProfilePath } from '../../daemon/src/config.js';
import { instanceId } from '../../daemon/src/daemon.js';
import { DockerSandboxDriver } from '../../daemon/src/sandbox/docker-driver.js';
import type { SandboxDriver, SandboxInfo, SandboxMount } from '../../daemon/src/sandbox/types.js';
import { DEFAULT_SANDBOX_UID, SandboxManager } from '../../daemon/src/sandbox/manager.js';
import { runnerBundleFile } from '../../daemon/src/sandbox/runner.js';
import { quietLogger, startTestDaemon } from '../helpers/daemon.js';
import type { RecordingHooks } from '../daemon/agent/hooks.js';

export const ADMIN: Caller = { role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: '', clientIp: 'local' };

/** The bundle's host file; it must exist: say how to make it rather than failing obscurely. */
export function runnerFileOrExplain(): string {
  try {
    return runnerBundleFile(agentRunnerBundle());
  } catch (err) {
    throw new Error(`${(err as Error).message} — the agent-runner tests run the bundle; build it first (npm run build, or node scripts/postbuild.mjs)`);
  }
}

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

/** A git workspace the sandbox user owns (the dedicated uid when the daemon runs as root). */
export function gitWorkspace(home: string, name: string): string {
  const ws = join(home, 'workspaces', name);
  mkdirSync(ws, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'loki/session', ws]);
  if (process.getuid?.() === 0) chownTree(ws, DEFAULT_SANDBOX_UID, DEFAULT_SANDBOX_UID);
  return ws;
}

export interface SandboxRun {
  daemon: Awaited<ReturnType<typeof startTestDaemon>>;
  channels: AgentChannels;
  /** The sessions' model proxies, as the daemon keeps them (on `<agent dir>/model.sock`, owned by the sandbox user). */
  proxies: ModelProxies;
  cleanup(): Promise<void>;
  start(sessionId: string, workspace: string, extraMounts?: SandboxMount[]): Promise<{ channel: AgentChannel; info: SandboxInfo }>;
  waitExit(id: string, ms?: number): Promise<SandboxInfo>;
}

/**
 * The daemon's Docker driver plus test-only host files mounted into the sandboxes it
 * creates, by session (a stand-in CLI): no start request can name a host path.
 */
function withTestMounts(base: SandboxDriver, bySession: Map<string, SandboxMount[]>): SandboxDriver {
  const d = Object.create(base) as SandboxDriver;
  d.create = (spec, h) => base.create({ ...spec, extraMounts: [...spec.extraMounts, ...(bySession.get(spec.session) ?? [])] }, h);
  return d;
}

export async function sandboxRun(hooks: RecordingHooks): Promise<SandboxRun> {
  runnerFileOrExplain();
  const daemon = await startTestDaemon();
  const testMounts = new Map<string, SandboxMount[]>();
  const cfg = daemon.config;
  const manager = new SandboxManager({
    driver: withTestMounts(new DockerSandboxDriver({ socketPath: cfg.docker.socket, instance: instanceId(daemon.home) }), testMounts),
    config: cfg.sandbox,
    seccompPath: seccompProfilePath(cfg.sandbox),
    workspacesDir: daemon.paths.workspacesDir,
    audit: daemon.audit.audit,
    log: quietLogger(),
  });
  const channels = createAgentChannels({ runDir: daemon.paths.runDir, hooks, log: quietLogger(), carrier: daemon.manager, sandboxUser: daemon.manager.sandboxUser });
  const proxies = new ModelProxies({ owner: daemon.manager.sandboxUser, log: quietLogger() });
  const started: string[] = [];
  return {
    daemon,
    channels,
    proxies,
    async start(sessionId, workspace, extraMounts = []) {
      const channel = await channels.open(sessionId);
      testMounts.set(sessionId, extraMounts);
      const info = await manager.start(ADMIN, {
        name: '',
        project: '',
        image: '',
        command: ['node', '/opt/loki/agent-runner.cjs'],
        env: {},
        limits: {},
        relax: { network: false, writableRootfs: false, rootUser: false },
        session: sessionId,
        workspace,
        agentChannel: channel.transport,
        runner: agentRunnerBundle(),
      });
      started.push(info.id);
      return { channel, info };
    },
    async waitExit(id, ms = 60_000) {
      const end = Date.now() + ms;
      for (;;) {
        const info = await daemon.manager.get(ADMIN, id);
        if (info.state === 'exited' || info.state === 'dead') return info;
        if (Date.now() > end) throw new Error(`sandbox ${id} still ${info.state} after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async cleanup() {
      for (const id of started) await daemon.manager.remove(ADMIN, id, true).catch(() => undefined);
      await channels.closeAll();
      await proxies.closeAll();
      await daemon.cleanup();
    },
  };
}
