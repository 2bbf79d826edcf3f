// The CLI's connection to the daemon's admin socket. Commands get typed clients
// from here and never build gRPC errors or paths themselves.
import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  LokiError,
  defaultLokiHome,
  isErrorCode,
  kindFromGrpcStatus,
  runtimePaths,
  GRPC_STATUS,
  type ErrorCode,
} from '../../common/src/index.js';

export interface GlobalOptions {
  home?: string;
  socket?: string;
}

export function adminSocketPath(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket) return opts.socket;
  if (env.LOKI_SOCKET) return env.LOKI_SOCKET;
  return runtimePaths(opts.home ?? defaultLokiHome(env)).adminSocket;
}

type ClientCtor<C> = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options?: object) => C;

export interface DaemonConnection {
  socket: string;
  get<C extends Client>(ctor: ClientCtor<C>): C;
  metadata(): Metadata;
  close(): void;
}

export function connectDaemon(opts: GlobalOptions): DaemonConnection {
  const socket = adminSocketPath(opts);
  const clients: Client[] = [];
  return {
    socket,
    get<C extends Client>(ctor: ClientCtor<C>): C {
      const c = new ctor(`unix:${socket}`, credentials.createInsecure(), {
        'grpc.max_receive_message_length': 16 * 1024 * 1024,
      });
      clients.push(c);
      return c;
    },
    metadata(): Metadata {
      const md = new Metadata();
      md.set('x-loki-request-id', randomUUID());
      if (typeof process.getuid === 'function') md.set('x-loki-local-uid', String(process.getuid()));
      return md;
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}

/** Turns a gRPC error from the daemon back into the LokiError it was. */
export function fromServiceError(err: unknown, socket: string): LokiError {
  if (err instanceof LokiError) return err;
  const se = err as Partial<ServiceError>;
  const codeMd = se.metadata?.get('x-loki-error-code')[0];
  if (typeof codeMd === 'string' && isErrorCode(codeMd)) return new LokiError(codeMd, se.details ?? se.message ?? codeMd);
  if (se.code === GRPC_STATUS.UNAVAILABLE) {
    const why = existsSync(socket) ? `nothing answers on ${socket}` : `no socket at ${socket}`;
    return new LokiError('daemon_unavailable', `lokid is not running (${why}). Start it with \`loki up\` (or \`systemctl start lokid\`).`);
  }
  const kind = typeof se.code === 'number' ? kindFromGrpcStatus(se.code) : 'internal';
  const code: ErrorCode = kind === 'conflict' ? 'conflict' : kind;
  return new LokiError(code, se.details ?? se.message ?? 'daemon call failed');
}

type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  options: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** Promisified unary call with the CLI's metadata and a deadline. */
export function call<Req, Res>(conn: DaemonConnection, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(req, conn.metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(fromServiceError(err, conn.socket));
      else resolve(res);
    });
  });
}
