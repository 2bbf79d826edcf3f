// The wire under the gRPC transport: where the daemon is (unix socket or
// mutual-TLS TCP), the channel credentials for it, the forwarded-identity
// metadata, and the hand-off of a gRPC error to the one decoder (../errors.ts).
import { credentials, Metadata, type ChannelCredentials, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import type { LokiError } from '../../../common/src/index.js';
import { decodeGrpcError } from '../errors.js';

/**
 * Whom a call is for. The daemon acts on `credential` alone (it verifies it
 * itself); without one the call is the gateway's own. `subject`/`scopes` are the
 * gateway's view, used here and in logs; only the subject is sent, as a claim
 * the daemon may quote in audit entries but never acts on.
 */
export interface CallIdentity {
  requestId: string;
  subject?: string;
  scopes?: readonly string[];
  /** `token:<name>` | `oidc:<sub>` | `none` */
  auth?: string;
  clientIp?: string;
  /** The end user's bearer token or OIDC JWT. */
  credential?: string;
}

/** PEM material for the mutual-TLS TCP road to the daemon. */
export interface DaemonTlsMaterial {
  /** CA that signed the daemon's server certificate. */
  ca: Buffer;
  /** The gateway's client certificate; its CN/SAN must be one of the daemon's `tcp.gateway_names`. */
  cert: Buffer;
  key: Buffer;
  /** Name to verify the daemon's certificate against when it differs from the address's host. */
  serverName?: string;
}

/** Where the daemon is: its local gateway socket, or a TCP address that is always mutual TLS. */
export type DaemonTarget = { socketPath: string } | { address: string; tls: DaemonTlsMaterial };

export interface Channel {
  address: string;
  credentials: ChannelCredentials;
  options: Record<string, string | number>;
  /** Shown in logs, never to HTTP clients. */
  describe: string;
  tcp: boolean;
  socketPath?: string;
  /** Who reads error messages: the operator on the host (may name the socket) or a remote HTTP client. */
  audience?: 'operator' | 'remote';
}

/** How long the client waits between tries to reach a lokid that is away (see channelFor). */
export const RECONNECT_BACKOFF_MS = { initial: 250, unix: 1000, tcp: 5000 } as const;

/**
 * How a stream notices a lokid that is there but does not answer (stopped, its event loop stuck): while
 * a call is open, an HTTP/2 PING every `time` ms, and the connection is given up when one is not
 * answered within `timeout` ms, so every open stream ends with UNAVAILABLE (`daemon_unavailable`) at
 * most `time + timeout` ms after lokid stopped answering. Without them a hung lokid's streams stayed
 * open and silent indefinitely (only unary calls failed, at their deadline). lokid acks a PING from its
 * event loop, so `timeout` is what it may stall before its streams are given up; it is the gateway's
 * default call deadline (`daemon.timeout_ms`), past which every unary call already fails. 10 s is
 * also the least keepalive time gRPC allows a client (gRFC A8). lokid's grpc-js server enforces no
 * minimum ping interval (no `too_many_pings`); were one in between, the client doubles `time` itself.
 */
export const KEEPALIVE_MS = { time: 10_000, timeout: 10_000 } as const;

export function channelFor(target: DaemonTarget): Channel {
  // Channelz is never read here; tracking it costs every call timestamps and closures.
  const options: Record<string, string | number> = { 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.enable_channelz': 0 };
  // While lokid is away (a restart, an upgrade) grpc-js waits longer and longer between tries,
  // up to 120 s by default, and fails every call at once meanwhile: after a one-minute restart
  // the gateway, the dashboard and `--follow` stayed cut off for up to a minute or two more.
  // A try is a connect() (plus a TLS handshake over TCP): cheap enough to make every second.
  options['grpc.initial_reconnect_backoff_ms'] = RECONNECT_BACKOFF_MS.initial;
  options['grpc.max_reconnect_backoff_ms'] = 'socketPath' in target ? RECONNECT_BACKOFF_MS.unix : RECONNECT_BACKOFF_MS.tcp;
  // Only while a call is open (no `keepalive_permit_without_calls`): an idle channel stays quiet.
  options['grpc.keepalive_time_ms'] = KEEPALIVE_MS.time;
  options['grpc.keepalive_timeout_ms'] = KEEPALIVE_MS.timeout;
  if ('socketPath' in target) {
    return { address: `unix:${target.socketPath}`, credentials: credentials.createInsecure(), options, describe: target.socketPath, tcp: false, socketPath: target.socketPath };
  }
  // There is no plaintext TCP: the daemon's TCP listener takes mutual TLS only, and so does this client.
  const { ca, cert, key, serverName } = target.tls;
  if (serverName) options['grpc.ssl_target_name_override'] = serverName;
  return { address: target.address, credentials: credentials.createSsl(ca, key, cert), options, describe: target.address, tcp: true };
}

/**
 * Turns a gRPC error from the daemon back into the LokiError it was (code travels in `x-loki-error-code`).
 */
export function fromServiceError(err: unknown, target: string | Pick<Channel, 'tcp' | 'socketPath' | 'describe' | 'audience'>, ownCall = false): LokiError {
  const ch = typeof target === 'string' ? { tcp: false, socketPath: target, describe: target, audience: undefined } : target;
  return decodeGrpcError(err, {
    audience: ch.audience ?? 'remote',
    target: ch.socketPath ?? ch.describe,
    tcp: ch.tcp,
    socketExists: ch.socketPath ? existsSync(ch.socketPath) : false,
    ownCall,
  });
}

// Metadata values must be printable ASCII; the daemon drops anything else. This
// runs on every gateway request: one Metadata, no closure or regex per entry.
function printable(v: string, min: number, max: number, maxLen: number): boolean {
  const n = v.length;
  if (n === 0 || n > maxLen) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < min || c > max) return false;
  }
  return true;
}

export function metadataFor(id: CallIdentity): Metadata {
  const md = new Metadata();
  if (id.requestId !== undefined && printable(id.requestId, 0x20, 0x7e, 256)) md.set('x-loki-request-id', id.requestId);
  if (id.subject !== undefined && printable(id.subject, 0x20, 0x7e, 256)) md.set('x-loki-subject', id.subject);
  if (id.clientIp !== undefined && printable(id.clientIp, 0x20, 0x7e, 256)) md.set('x-loki-client-ip', id.clientIp);
  // Tokens and JWTs are printable ASCII without spaces; JWTs can exceed the 256-character cap above.
  if (id.credential !== undefined && printable(id.credential, 0x21, 0x7e, 16384)) md.set('x-loki-credential', id.credential);
  return md;
}

export type Unary<Req, Res> = (req: Req, md: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => { cancel(): void };

export type Invoke = <Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, id: CallIdentity, timeoutMs?: number) => Promise<Res>;
