// The wire under the daemon client: where the daemon is (unix socket or
// mutual-TLS TCP), the channel credentials for it, the forwarded-identity
// metadata, and the one place a gRPC error becomes a LokiError again.
import { ChannelCredentials, credentials, Metadata, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { GRPC_STATUS, LokiError, isErrorCode, kindFromGrpcStatus, type ErrorCode } from '../../common/src/index.js';

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

/** Turns a gRPC error from the daemon back into the LokiError it was (code travels in `x-loki-error-code`). */
export function fromServiceError(err: unknown, target: string | Pick<Channel, 'tcp' | 'socketPath'>, ownCall = false): LokiError {
  if (err instanceof LokiError) return err;
  const ch = typeof target === 'string' ? { tcp: false, socketPath: target } : target;
  const se = err as Partial<ServiceError>;
  const codeMd = se.metadata?.get('x-loki-error-code')[0];
  if (typeof codeMd === 'string' && isErrorCode(codeMd)) {
    // A refusal of the gateway's own call (no forwarded user) can only mean the daemon
    // does not accept this gateway as a gateway (wrong client certificate name, wrong
    // socket): a gateway misconfiguration, not the end user's lack of permission.
    if (ownCall && ch.tcp && codeMd === 'permission_denied') {
      return new LokiError('gateway_not_allowed', 'the Loki daemon does not accept this gateway (its client certificate does not name an allowed gateway)');
    }
    return new LokiError(codeMd, se.details ?? codeMd);
  }
  if (se.code === GRPC_STATUS.UNAVAILABLE || se.code === GRPC_STATUS.DEADLINE_EXCEEDED) {
    // The socket path or address is operator information; the HTTP client only learns that the daemon is down.
    const why = ch.tcp ? 'not reachable' : ch.socketPath && existsSync(ch.socketPath) ? 'not answering' : 'not running';
    return new LokiError('daemon_unavailable', `the Loki daemon is ${why}`);
  }
  if (se.code === GRPC_STATUS.UNIMPLEMENTED) return new LokiError('unavailable', 'the daemon does not serve this API yet');
  const kind = typeof se.code === 'number' ? kindFromGrpcStatus(se.code) : 'internal';
  const code: ErrorCode = kind;
  return new LokiError(code, kind === 'internal' ? 'daemon call failed' : (se.details ?? 'daemon call failed'), { cause: err });
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
