// The single decoder of Loki errors, for both transports: a gRPC status with
// the code in the `x-loki-error-code` trailer, or an HTTP error body
// `{"error":{"code","message","request_id"}}`. Either way the caller gets back
// the LokiError the server threw (same code, same kind, same exit code).
// No grpc-js or node imports here, so a browser bundle can use it too.
import { GRPC_STATUS, KIND_MAP, LokiError, isErrorCode, kindFromGrpcStatus, type ErrorCode, type ErrorKind } from '../../common/src/index.js';

/** The parts of a grpc-js ServiceError this decoder reads. */
export interface GrpcErrorLike {
  code?: number;
  details?: string;
  message?: string;
  metadata?: { get(key: string): unknown[] };
}

export interface GrpcDecodeContext {
  /**
   * Who reads the message. `operator`: the CLI/TUI on the daemon's host, told
   * where it looked and how to start lokid. `remote`: an HTTP client behind the
   * gateway, told only that the daemon is down (paths are operator information).
   */
  audience: 'operator' | 'remote';
  /** What the transport dialled: the socket path or the TCP address. */
  target: string;
  tcp: boolean;
  /** For a socket: does the file exist? (decides "not running" vs "not answering"). */
  socketExists?: boolean;
  /**
   * The call carried no end-user identity (the gateway's own health probe).
   * Over mTLS a refusal of such a call means the daemon does not accept this
   * gateway's certificate: a gateway misconfiguration, not a user's permission.
   */
  ownCall?: boolean;
}

/** A Loki error code from the trailer, if the daemon sent one. */
function codeFrom(err: GrpcErrorLike): ErrorCode | undefined {
  const v = err.metadata?.get('x-loki-error-code')[0];
  return typeof v === 'string' && isErrorCode(v) ? v : undefined;
}

function unavailableMessage(ctx: GrpcDecodeContext): string {
  if (ctx.audience === 'remote') {
    const why = ctx.tcp ? 'not reachable' : ctx.socketExists ? 'not answering' : 'not running';
    return `the Loki daemon is ${why}`;
  }
  if (ctx.tcp) return `lokid is not reachable at ${ctx.target}`;
  if (!ctx.socketExists) return `lokid is not running (no socket at ${ctx.target}). Start it with \`loki up\` (or \`systemctl start lokid\`).`;
  // The socket is there: a lokid that died and left it, or one that is running but hung (it accepts
  // connections and never answers). Starting another is the fix for the first only.
  return `lokid is not answering (nothing answers on ${ctx.target}): if it is not running, start it with \`loki up\` (or \`systemctl start lokid\`); if it is, it is hung (docs/RUNBOOK.md, "lokid hangs").`;
}

/** Turns a gRPC error back into the LokiError it was. */
export function decodeGrpcError(err: unknown, ctx: GrpcDecodeContext): LokiError {
  if (err instanceof LokiError) return err;
  const se = (err ?? {}) as GrpcErrorLike;
  const code = codeFrom(se);
  if (code) {
    if (ctx.ownCall && ctx.tcp && code === 'permission_denied') {
      return new LokiError('gateway_not_allowed', 'the Loki daemon does not accept this gateway (its client certificate does not name an allowed gateway)');
    }
    return new LokiError(code, se.details || se.message || code);
  }
  if (se.code === GRPC_STATUS.UNAVAILABLE || se.code === GRPC_STATUS.DEADLINE_EXCEEDED) {
    return new LokiError('daemon_unavailable', unavailableMessage(ctx), { cause: err });
  }
  if (se.code === GRPC_STATUS.UNIMPLEMENTED) {
    return new LokiError('unavailable', 'the daemon does not serve this API yet (is lokid older than this client?)', { cause: err });
  }
  const kind = typeof se.code === 'number' ? kindFromGrpcStatus(se.code) : 'internal';
  return new LokiError(kind, kind === 'internal' ? 'daemon call failed' : se.details || 'daemon call failed', { cause: err });
}

/** The kind an HTTP status stands for when the body carries no Loki code (a proxy's 502, Fastify's own 404). */
export function kindFromHttpStatus(status: number): ErrorKind {
  if (status === 400 || status === 413 || status === 415 || status === 422) return 'invalid_argument';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'permission_denied';
  if (status === 404 || status === 405) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 429) return 'resource_exhausted';
  if (status === 502 || status === 503 || status === 504) return 'unavailable';
  return 'internal';
}

/** Turns a gateway error response (status + parsed JSON body, or undefined) back into a LokiError. */
export function decodeHttpError(status: number, body: unknown, url?: string): LokiError {
  const e = (body && typeof body === 'object' ? (body as { error?: unknown }).error : undefined) as
    | { code?: unknown; message?: unknown; request_id?: unknown }
    | string
    | undefined;
  const where = url ? ` (${url})` : '';
  if (e && typeof e === 'object') {
    const message = typeof e.message === 'string' && e.message ? e.message : `HTTP ${status}`;
    if (isErrorCode(e.code)) return new LokiError(e.code, message);
    return new LokiError(kindFromHttpStatus(status), message);
  }
  // Not a Loki body: Fastify's own errors ({statusCode, error, message}) or an intermediary's page.
  const fm = body && typeof body === 'object' ? (body as { message?: unknown }).message : undefined;
  const message = typeof fm === 'string' && fm ? fm : `the gateway answered HTTP ${status}${where}`;
  return new LokiError(kindFromHttpStatus(status), message);
}

/** Network-level failure of an HTTP call (refused, DNS, TLS) as a LokiError that names the cause. */
export function decodeFetchFailure(err: unknown, url: string): LokiError {
  if (err instanceof LokiError) return err;
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const code = cause?.code ?? '';
  if (/CERT|SELF_SIGNED|TLS|SSL|UNABLE_TO_VERIFY|ERR_TLS/i.test(code)) {
    return new LokiError('unavailable', `TLS to ${url} failed (${code}): pass the gateway's CA with --ca-file or LOKI_CA_FILE`, { cause: err });
  }
  if ((err as { name?: string } | undefined)?.name === 'TimeoutError') return new LokiError('unavailable', `the gateway at ${url} did not answer in time`, { cause: err });
  const why = code || cause?.message || (err as Error | undefined)?.message || 'connection failed';
  return new LokiError('unavailable', `cannot reach the Loki gateway at ${url} (${why})`, { cause: err });
}

/** The CLI exit code for any error (docs/errors.md): the kind's code, 1 for the unexpected. */
export function exitCodeFor(err: unknown): number {
  return err instanceof LokiError ? KIND_MAP[err.kind].exit : 1;
}
