// The wire under the gRPC transport: where the daemon is (unix socket or
// mutual-TLS TCP), the channel credentials for it, the forwarded-identity
// metadata, and the hand-off of a gRPC error to the one decoder (../errors.ts).
import { credentials, Metadata, type ChannelCredentials, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import type { LokiError } from '../../../common/src/index.js';
import { decodeGrpcError } from '../errors.js';

/** Who the daemon should think is calling; omitted subject = the gateway itself (e.g. token verification). */
export interface CallIdentity {
  requestId: string;
  subject?: string;
  scopes?: readonly string[];
  /** `token:<name>` | `oidc:<sub>` | `none` */
  auth?: string;
  clientIp?: string;
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

export function channelFor(target: DaemonTarget): Channel {
  const options: Record<string, string | number> = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
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

// Metadata values must be printable ASCII; the daemon drops anything else.
const SAFE = /^[\x20-\x7e]{1,256}$/;

export function metadataFor(id: CallIdentity): Metadata {
  const md = new Metadata();
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined && SAFE.test(v)) md.set(k, v);
  };
  set('x-loki-request-id', id.requestId);
  set('x-loki-subject', id.subject);
  if (id.subject) set('x-loki-scopes', (id.scopes ?? []).join(','));
  set('x-loki-auth', id.auth);
  set('x-loki-client-ip', id.clientIp);
  return md;
}

export type Unary<Req, Res> = (req: Req, md: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export type Invoke = <Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, id: CallIdentity, timeoutMs?: number) => Promise<Res>;
