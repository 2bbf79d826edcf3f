// The per-session agent channel: one grpc-js server per session on a unix
// socket in `<runDir>/agents/<sessionId>/`, a directory the sandbox driver carries
// into that one sandbox only (`agentChannelMount`; Docker bind-mounts it). The session a call speaks for is fixed by which socket it
// arrived on; nothing the runner sends can name another session, owner or profile.
//
// Who can reach a socket is decided by the file system alone, never by the
// run dir's mode (systemd makes /run/loki 0755): `agents/` is 0711 (traverse,
// no listing); `agents/<id>/` is the daemon's with the sandbox's group, 0750
// (the sandbox may enter but not write: it cannot swap a socket for a symlink
// the root daemon would then chown); every socket is the sandbox uid's, 0600.
// The sandbox uid:gid is a dedicated one no host account has, so only that
// sandbox (and root) can connect; other host users get EACCES.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { chmodSync, existsSync, lchownSync, mkdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { shutdownServer } from '../grpc/listeners.js';
import type { HandlerContext } from '../grpc/wrap.js';
import { createAgentServiceModule } from './grpc.js';
import type { AgentChannel, AgentChannelCarrier, AgentChannelHooks, AgentChannels } from './types.js';
import { withSafeDecoding } from '../grpc/decode.js';

export const AGENT_SOCKET_NAME = 'agent.sock';
export const MODEL_SOCKET_NAME = 'model.sock';
/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const SESSION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The runner is untrusted: a small receive cap keeps a hostile runner from making the daemon buffer much. */
const AGENT_SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.max_concurrent_streams': 32,
};

export interface AgentChannelsOptions {
  /** `$LOKI_HOME/run` (or `/run/loki`): channels live under `<runDir>/agents/`. */
  runDir: string;
  hooks: AgentChannelHooks;
  log: Logger;
  /** Carries each channel into its sandbox (the sandbox manager, i.e. its driver). */
  carrier: AgentChannelCarrier;
  /** The uid:gid the sandbox runs as: it owns the session's directory and sockets (default: the daemon's own). */
  sandboxUser?: { uid: number; gid: number };
}

interface OpenChannel {
  channel: AgentChannel;
  server: Server;
}

export function agentDirFor(runDir: string, sessionId: string): string {
  if (!SESSION_ID_RE.test(sessionId)) throw new LokiError('invalid_argument', `"${sessionId.slice(0, 64)}" is not a valid session id`);
  return join(runDir, 'agents', sessionId);
}

/** The per-session channels; a session's model proxy, in the same directory, is ModelProxies' (model-proxies.ts). */
export function createAgentChannels(o: AgentChannelsOptions): AgentChannels {
  if (!o.runDir || !o.hooks || !o.log || !o.carrier) throw new Error('createAgentChannels needs runDir, hooks, log and carrier');
  const log = o.log.child({ component: 'agent-channels' });
  const open = new Map<string, OpenChannel>();
  // The runner's Hello also learns where the model socket is in its sandbox, from the channel it came in on.
  const hooks: AgentChannelHooks = {
    hello: (id, runner) => {
      const ch = open.get(id)?.channel;
      return o.hooks.hello(id, runner, ch ? { modelSocketInSandbox: `${ch.transport.dirInSandbox}/${MODEL_SOCKET_NAME}` } : undefined);
    },
    decide: (id, req, signal) => o.hooks.decide(id, req, signal),
    report: (id, events) => o.hooks.report(id, events),
    heartbeat: (id, iteration) => o.hooks.heartbeat(id, iteration),
  };
  const module = createAgentServiceModule(hooks);
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const owner = o.sandboxUser ?? self;

  const sameUser = owner.uid === self.uid && owner.gid === self.gid;

  /** Hands a path to the sandbox (only root may give files away; a non-root daemon's sandboxes run as itself). */
  function own(path: string, uid: number, gid: number): void {
    if (sameUser) return;
    try {
      // Never follows a symlink (the directory is not the sandbox's to write anyway).
      lchownSync(path, uid, gid);
    } catch (err) {
      throw new LokiError('invalid_config', `cannot hand ${path} to the sandbox user ${owner.uid}:${owner.gid} (${(err as NodeJS.ErrnoException).code}); a daemon not running as root must use sandbox.user "auto"`, { cause: err });
    }
  }

  /** `agents/`: the daemon's, traverse-only, whatever the run dir's mode is. */
  function agentsRoot(): string {
    const root = join(o.runDir, 'agents');
    mkdirSync(root, { recursive: true, mode: 0o711 });
    const st = statSync(root);
    if (st.uid !== self.uid) throw new LokiError('invalid_config', `${root} belongs to uid ${st.uid}, not to the daemon; remove it`);
    chmodSync(root, 0o711);
    return root;
  }

  async function openChannel(sessionId: string): Promise<AgentChannel> {
    const existing = open.get(sessionId);
    if (existing) return existing.channel;
    agentsRoot();
    const dir = agentDirFor(o.runDir, sessionId);
    // Private before any socket exists in it, so no socket is ever reachable by anyone else.
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
    if (!sameUser) {
      own(dir, self.uid, owner.gid);
      chmodSync(dir, 0o750);
    }
    const sock = join(dir, AGENT_SOCKET_NAME);
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) {
      throw new LokiError('invalid_config', `agent socket path ${sock} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter run directory`);
    }
    // After a daemon restart the old socket file is stale (its server died with
    // the old process); the sandbox keeps the directory its driver carried in, so a
    // new socket at the same path is what the runner reconnects to.
    if (existsSync(sock)) unlinkSync(sock);
    const server = new Server(AGENT_SERVER_OPTIONS);
    const ctx: HandlerContext = { log, listener: { role: 'agent', sessionId } };
    // The agent is the least trusted caller: an undecodable request is its INVALID_ARGUMENT, never INTERNAL.
    module.register(withSafeDecoding(server), ctx);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    own(sock, owner.uid, owner.gid);
    chmodSync(sock, 0o600);
    const transport = o.carrier.agentChannelMount(sessionId, dir);
    const channel: AgentChannel = { sessionId, hostDir: dir, transport, socketInSandbox: `${transport.dirInSandbox}/${AGENT_SOCKET_NAME}` };
    open.set(sessionId, { channel, server });
    log.info({ session_id: sessionId }, 'agent channel open');
    return channel;
  }

  async function closeChannel(sessionId: string, removeDir: boolean): Promise<void> {
    const entry = open.get(sessionId);
    open.delete(sessionId);
    if (entry) await shutdownServer(entry.server, 1000);
    const dir = agentDirFor(o.runDir, sessionId);
    if (removeDir) rmSync(dir, { recursive: true, force: true });
    else rmSync(join(dir, AGENT_SOCKET_NAME), { force: true });
  }

  return {
    open: openChannel,
    // Closing a session's channel removes its directory: the session is over.
    close: (sessionId) => closeChannel(sessionId, true),
    // closeAll is the daemon shutting down: keep the directories (the sandboxes
    // still have them) so a restarted daemon re-opens the same paths.
    async closeAll() {
      await Promise.all([...open.keys()].map((id) => closeChannel(id, false)));
    },
  };
}
