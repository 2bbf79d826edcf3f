// The daemon's doors. Each listener is its own grpc.Server so the role of every
// call is fixed by the door it came through: admin.sock → local-admin,
// gateway.sock / mTLS TCP → gateway.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { chmodSync, chownSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { LokiError, type Logger } from '../../../common/src/index.js';
import type { GatewayTrust, ListenerIdentity } from './caller.js';
import type { ServiceModule } from './module.js';
import type { HandlerContext } from './wrap.js';
import { withSafeDecoding } from './decode.js';
import { findGroupId } from '../config.js';

export const GRPC_SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 16 * 1024 * 1024,
  'grpc.keepalive_permit_without_calls': 1,
  // Nothing reads channelz (no channelz service is served); tracking it cost every
  // call closures, timestamps and ~1.7 KB of garbage (P1, heap-profiled).
  'grpc.enable_channelz': 0,
};

function groupId(name: string): number {
  const gid = findGroupId(name);
  if (gid === undefined) throw new LokiError('invalid_config', `socket group "${name}" does not exist`);
  return gid;
}

/** Whether something accepts connections on the unix socket at `path`. */
async function socketAlive(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  return new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Refuses to start beside a live lokid on the same sockets, before the start makes anything: a second
 * lokid used to remove the live one's warm pool slots before it found the socket taken. A stale socket
 * left by a crash is fine (the listener replaces it).
 */
export async function refuseRunningDaemon(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    if (await socketAlive(path)) throw new LokiError('conflict', `another lokid is already serving ${path}`);
  }
}

/** Refuses to steal a live socket; removes a stale one left by a crash. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (await socketAlive(path)) throw new LokiError('conflict', `another lokid is already serving ${path}`);
  unlinkSync(path);
}

function buildServer(modules: readonly ServiceModule[], base: HandlerContext): Server {
  const server = new Server(GRPC_SERVER_OPTIONS);
  // This door's unary methods, for BatchService (batch.ts) on the gateway's doors.
  const ctx: HandlerContext = { ...base, unaryMethods: new Map() };
  const safe = withSafeDecoding(server, ctx.unaryMethods);
  for (const m of modules) if (m.roles.includes(ctx.listener.role)) m.register(safe, ctx);
  return server;
}

export interface UnixListenerOptions {
  path: string;
  mode: number;
  group?: string;
  identity: ListenerIdentity;
  modules: readonly ServiceModule[];
  log: Logger;
  /** Gateway door: how forwarded credentials are verified. */
  trust?: GatewayTrust;
}

export async function listenUnix(o: UnixListenerOptions): Promise<Server> {
  await clearStaleSocket(o.path);
  const server = buildServer(o.modules, { log: o.log, listener: o.identity, ...(o.trust ? { trust: o.trust } : {}) });
  // The socket is created under a 0177 umask so no other user can connect in the
  // window between bind() and chmod().
  const old = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${o.path}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  } finally {
    process.umask(old);
  }
  if (o.group) chownSync(o.path, process.getuid?.() ?? 0, groupId(o.group));
  chmodSync(o.path, o.mode);
  return server;
}

export interface TcpListenerOptions {
  listen: string;
  cert: string;
  key: string;
  clientCa: string;
  gatewayNames: readonly string[];
  modules: readonly ServiceModule[];
  log: Logger;
  trust?: GatewayTrust;
}

interface PeerCert {
  subject?: { CN?: string };
  subjectaltname?: string;
}

/** Mutual-TLS TCP listener for a remote gateway; the role comes from the client certificate's name. */
export async function listenTcp(o: TcpListenerOptions): Promise<{ server: Server; port: number }> {
  const creds = ServerCredentials.createSsl(
    readFileSync(o.clientCa),
    [{ cert_chain: readFileSync(o.cert), private_key: readFileSync(o.key) }],
    true,
  );
  const allowed = new Set(o.gatewayNames);
  const authorizePeer = (call: { getAuthContext?: () => unknown }) => {
    const auth = call.getAuthContext?.() as { sslPeerCertificate?: PeerCert } | undefined;
    const cert = auth?.sslPeerCertificate;
    const names = [cert?.subject?.CN ?? '', ...(cert?.subjectaltname ?? '').split(/,\s*/).map((n) => n.replace(/^DNS:/, ''))];
    if (!names.some((n) => n && allowed.has(n))) {
      throw new LokiError('permission_denied', 'the client certificate does not name an allowed gateway');
    }
  };
  const server = buildServer(o.modules, { log: o.log, listener: { role: 'gateway' }, authorizePeer, ...(o.trust ? { trust: o.trust } : {}) });
  // A port another process holds is the operator's to sort out: one line naming the setting, not grpc-js's stack.
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(o.listen, creds, (err, p) => (err ? reject(new LokiError('unavailable', `cannot listen on ${o.listen} (tcp.listen): ${/errors: \[(.*)\]$/.exec(err.message)?.[1] ?? err.message}`)) : resolve(p))),
  );
  return { server, port };
}

export function shutdownServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
