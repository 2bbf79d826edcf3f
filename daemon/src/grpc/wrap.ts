// Converts between Loki errors and gRPC status at the wire, in one place.
// Every daemon handler is wrapped by one of these; handlers throw LokiError and
// never build status codes by hand.
import {
  Metadata,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { LokiError, toLokiError, type Logger } from '../../../common/src/index.js';
import { runWithCaller } from '../authz/call-context.js';
import { undecodable, type UnaryMethods } from './decode.js';
import type { Caller } from '../authz/caller.js';
import { resolveCaller, type GatewayTrust, type ListenerIdentity } from './caller.js';

/**
 * SQLite's SQLITE_FULL (the disk under state/ is full) is a condition the operator can fix,
 * not an unexplained internal error: it is `unavailable` and says so (RUNBOOK "A full disk").
 */
function daemonError(err: unknown): LokiError {
  if (!(err instanceof LokiError) && (err as { code?: unknown } | undefined)?.code === 'SQLITE_FULL') {
    return new LokiError('unavailable', 'the state database could not be written: the disk under $LOKI_HOME/state is full (free space, see docs/RUNBOOK.md "A full disk")', { cause: err });
  }
  return toLokiError(err);
}

export function toServiceError(err: unknown): Partial<ServiceError> & { code: number; details: string } {
  const le = daemonError(err);
  const metadata = new Metadata();
  metadata.set('x-loki-error-code', le.code);
  return { code: le.grpcStatus, details: le.message, metadata, message: le.message, name: 'LokiError' };
}

function logError(log: Logger, method: string, caller: Caller | undefined, err: unknown): void {
  const le = daemonError(err);
  const fields = { method, code: le.code, subject: caller?.subject, request_id: caller?.requestId };
  // Anything that was not a LokiError (internal, or a full disk) is logged whole, at error.
  if (le.kind === 'internal' || !(err instanceof LokiError)) log.error({ ...fields, err: le.cause ?? le }, 'call failed');
  else log.info({ ...fields, msg_detail: le.message }, 'call rejected');
}

export interface HandlerContext {
  log: Logger;
  listener: ListenerIdentity;
  /** Extra check of the transport peer (the mTLS listener checks the client certificate's name). */
  authorizePeer?: (call: { getAuthContext?: () => unknown }) => void;
  /** Gateway doors: how forwarded end-user credentials are verified (folded into each call: no extra round trip). */
  trust?: GatewayTrust;
  /** The door's unary methods by path, filled as modules register (what BatchService may run). */
  unaryMethods?: UnaryMethods;
}

/** After identification: an anonymous prober learns nothing about field handling. */
function decodable(call: { request?: unknown }, caller: Caller): Caller {
  const bad = undecodable(call.request);
  if (bad) throw new LokiError('invalid_argument', bad);
  return caller;
}

/**
 * The caller of one call; every refusal (peer, credential, undecodable request)
 * is thrown or rejected. Synchronous when the caller is known at once (a door
 * that needs no lookup, a credential the verifier has just checked), which is
 * every API call's path: no promise hop before the handler.
 */
function identify(ctx: HandlerContext, method: string, call: { metadata: Metadata; getAuthContext?: () => unknown; request?: unknown }): Caller | Promise<Caller> {
  ctx.authorizePeer?.(call);
  const who = resolveCaller(ctx.listener, call.metadata, method, ctx.trust);
  return who instanceof Promise ? who.then((c) => decodable(call, c)) : decodable(call, who);
}

export type UnaryHandler<Req, Res> = (req: Req, caller: Caller, call: ServerUnaryCall<Req, Res>) => Promise<Res>;

export function unary<Req, Res>(ctx: HandlerContext, method: string, fn: UnaryHandler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    let caller: Caller | undefined;
    let release: (() => void) | undefined;
    const fail = (err: unknown) => {
      release?.();
      logError(ctx.log, method, caller, err);
      callback(toServiceError(err) as ServiceError);
    };
    const done = (res: Res) => {
      release?.();
      callback(null, res);
    };
    const run = (c: Caller): Promise<Res> => {
      caller = c;
      release = callSlot(ctx, c);
      return runWithCaller(c, () => fn(call.request, c, call));
    };
    // Each promise hop is a microtask (and an async-hooks init) per call: the
    // handler runs straight away when the caller is known synchronously.
    let started: Promise<Res>;
    try {
      const who = identify(ctx, method, call);
      started = who instanceof Promise ? who.then(run) : Promise.resolve(run(who));
    } catch (err) {
      fail(err);
      return;
    }
    started.then(done, fail);
  };
}

export type ServerStreamHandler<Req, Res> = (
  req: Req,
  caller: Caller,
  call: ServerWritableStream<Req, Res>,
  signal: AbortSignal,
) => Promise<void>;

/** Server-streaming: the handler writes; resolving ends the stream OK, throwing ends it with a status. */
export function serverStream<Req, Res>(ctx: HandlerContext, method: string, fn: ServerStreamHandler<Req, Res>) {
  // A server stream also ends when the client half-closes and goes ('close').
  return (call: ServerWritableStream<Req, Res>): void => runStream(ctx, method, call, ['cancelled', 'close'], (c, signal) => fn(call.request, c, call, signal));
}

export type BidiHandler<Req, Res> = (caller: Caller, call: ServerDuplexStream<Req, Res>, signal: AbortSignal) => Promise<void>;

export function bidiStream<Req, Res>(ctx: HandlerContext, method: string, fn: BidiHandler<Req, Res>) {
  return (call: ServerDuplexStream<Req, Res>): void => runStream(ctx, method, call, ['cancelled'], (c, signal) => fn(c, call, signal));
}

/** One streaming call: identify the caller, run the handler with it, end the stream OK or with a status. */
function runStream<Req, Res>(
  ctx: HandlerContext,
  method: string,
  call: ServerWritableStream<Req, Res> | ServerDuplexStream<Req, Res>,
  abortOn: readonly ('cancelled' | 'close')[],
  run: (caller: Caller, signal: AbortSignal) => Promise<void>,
): void {
  const ac = new AbortController();
  for (const e of abortOn) call.on(e, () => ac.abort());
  let caller: Caller | undefined;
  let release = () => {};
  // Streams are long-lived: one promise hop at their start costs nothing worth a second path.
  new Promise<Caller>((resolve) => resolve(identify(ctx, method, call)))
    .then((c) => {
      caller = c;
      release = holdSlot(ctx, c, call);
      return runWithCaller(c, () => run(c, ac.signal));
    })
    .then(
      () => {
        release();
        if (!call.writableEnded) call.end();
      },
      (err: unknown) => {
        release();
        // A client that went away is not an error worth a log line; a refusal still is.
        if (ac.signal.aborted && !(err instanceof LokiError)) return;
        logError(ctx.log, method, caller, err);
        if (!call.writableEnded) call.emit('error', toServiceError(err));
      },
    );
}

/**
 * A gateway end user's unary call takes one of its subject's call slots (grpc/subject-slots.ts)
 * until its handler answers, or is refused with resource_exhausted; the slot is held for the
 * handler's work even when the caller went away meanwhile, as that work goes on. The gateway's
 * own credential-less calls (token checks, audit reports) are not counted.
 */
function callSlot(ctx: HandlerContext, caller: Caller): (() => void) | undefined {
  const slots = ctx.trust?.calls;
  if (caller.role !== 'gateway' || !slots || caller.unverified) return undefined;
  return slots.take(caller.subject);
}

/**
 * A gateway caller's stream takes one of its subject's slots (grpc/subject-slots.ts),
 * or is refused with resource_exhausted. The slot is given back when the call goes
 * (cancelled, closed), not only when the handler returns: a handler waiting for a
 * reader that vanished must not keep its user locked out.
 */
function holdSlot(ctx: HandlerContext, caller: Caller, call: { once(e: 'cancelled' | 'close', f: () => void): unknown }): () => void {
  const slots = ctx.trust?.streams;
  if (caller.role !== 'gateway' || !slots) return () => {};
  const release = slots.take(caller.subject);
  call.once('cancelled', release);
  call.once('close', release);
  return release;
}

/**
 * Writes one message to a gRPC stream, waiting for back-pressure to clear. With
 * `signal`, the wait ends (rejecting with the signal's reason) when it aborts: a
 * reader that stopped reading cannot hold the handler forever.
 */
export function writeMessage<T>(call: { write(m: T): boolean; once(e: 'drain', f: () => void): unknown }, msg: T, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (call.write(msg)) return resolve();
    const onAbort = () => reject(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    call.once('drain', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
