// BatchService: several unary calls of the gateway's door in one gRPC call
// (proto/loki/v1/batch.proto). A gRPC call costs each end far more than the
// work behind a cached read (HTTP/2 stream, headers, trailers, grpc-js's call
// layers), so under load the gateway gathers the calls of one event-loop turn
// and sends them here together.
//
// Each call inside runs through the very handler a lone call would reach, the one
// the door registered (wrap.ts `unary`): the same peer check, the same
// verification of its own forwarded credential, the same decoding, authorization,
// audit and error mapping. Nothing of the batch's own metadata is read as
// identity, and only the door's unary methods can be named, so a batch can do
// exactly what the same calls sent one by one could, no more.
import { Metadata, status, type ServerWritableStream } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import { BatchServiceService, type BatchedCall, type BatchedResult, type BatchRequest } from '../../../proto/gen/loki/v1/batch.js';
import { undecodable, type UnaryEntry, type UnaryMethods } from './decode.js';
import type { ServiceModule } from './module.js';
import { toServiceError, type HandlerContext } from './wrap.js';

/** The most calls one batch may carry (the gateway sends at most 64). */
export const MAX_BATCHED_CALLS = 128;

/** Metadata a batched call may carry: Loki's own keys (request id, subject, client ip, credential). */
const METADATA_KEY = /^x-loki-[a-z0-9-]{1,48}$/;

interface ErrorLike {
  code?: number;
  details?: string;
  message?: string;
  metadata?: Metadata;
}

function failed(id: number, err: unknown): BatchedResult {
  const e = (err ?? {}) as ErrorLike;
  const code = typeof e.code === 'number' && e.code > 0 && e.code <= 16 ? e.code : status.INTERNAL;
  const errorCode = e.metadata instanceof Metadata ? e.metadata.get('x-loki-error-code')[0] : undefined;
  return { id, code, details: e.details ?? e.message ?? 'call failed', response: Buffer.alloc(0), errorCode: typeof errorCode === 'string' ? errorCode : '' };
}

function refused(id: number, err: LokiError): BatchedResult {
  return failed(id, toServiceError(err));
}

/** The call's own metadata, or a refusal naming what is wrong with it. */
function callMetadata(c: BatchedCall): Metadata | LokiError {
  const md = new Metadata();
  for (const [k, v] of Object.entries(c.metadata)) {
    if (!METADATA_KEY.test(k)) return new LokiError('invalid_argument', `batched call ${c.id}: metadata key ${JSON.stringify(k.slice(0, 64))} is not allowed (x-loki-* keys only)`);
    try {
      md.set(k, v);
    } catch {
      return new LokiError('invalid_argument', `batched call ${c.id}: metadata ${k} is not a valid value`);
    }
  }
  return md;
}

/** Runs one batched call through the door's own handler; `done` gets its result exactly once. */
function runOne(entry: UnaryEntry, c: BatchedCall, md: Metadata, batch: ServerWritableStream<BatchRequest, BatchedResult>, done: (r: BatchedResult) => void): void {
  const request = entry.def.requestDeserialize(Buffer.from(c.request.buffer, c.request.byteOffset, c.request.byteLength));
  // What unary handlers read of their call: the request, its metadata and the transport peer.
  const call = {
    request,
    metadata: md,
    cancelled: false,
    getAuthContext: () => batch.getAuthContext(),
    getPeer: () => batch.getPeer(),
    getPath: () => c.method,
    getDeadline: () => Infinity,
  };
  let answered = false;
  const callback = (err: unknown, res?: unknown) => {
    if (answered) return;
    answered = true;
    if (err) return done(failed(c.id, err));
    let response: Buffer;
    try {
      response = entry.def.responseSerialize(res);
    } catch {
      return done(failed(c.id, { code: status.INTERNAL, details: 'the response could not be encoded' }));
    }
    done({ id: c.id, code: status.OK, details: '', response, errorCode: '' });
  };
  try {
    entry.handler(call, callback);
  } catch (err) {
    callback(err);
  }
}

function serve(ctx: HandlerContext, methods: UnaryMethods, stream: ServerWritableStream<BatchRequest, BatchedResult>): void {
  const refuse = (err: LokiError): void => void stream.emit('error', toServiceError(err));
  const bad = undecodable(stream.request);
  if (bad) return refuse(new LokiError('invalid_argument', bad));
  try {
    // The transport peer is checked once for the batch; each call's own check repeats it.
    ctx.authorizePeer?.(stream);
  } catch (err) {
    return refuse(err instanceof LokiError ? err : new LokiError('permission_denied', 'peer refused'));
  }
  const calls = stream.request.calls;
  if (calls.length > MAX_BATCHED_CALLS) return refuse(new LokiError('invalid_argument', `a batch carries at most ${MAX_BATCHED_CALLS} calls (got ${calls.length})`));
  const ids = new Set<number>();
  for (const c of calls) {
    if (ids.has(c.id)) return refuse(new LokiError('invalid_argument', `batched call id ${c.id} is used twice`));
    ids.add(c.id);
  }
  let open = calls.length;
  if (open === 0) return void stream.end();
  const done = (r: BatchedResult) => {
    // A gateway that went away gets nothing more; the calls themselves run to their end, as lone calls do.
    if (!stream.cancelled && !stream.writableEnded) stream.write(r);
    if (--open === 0 && !stream.writableEnded) stream.end();
  };
  for (const c of calls) {
    const entry = methods.get(c.method);
    if (!entry) {
      done(failed(c.id, { code: status.UNIMPLEMENTED, details: `batched call ${c.id}: ${JSON.stringify(c.method.slice(0, 128))} is not a unary method of this door` }));
      continue;
    }
    const md = callMetadata(c);
    if (md instanceof LokiError) done(refused(c.id, md));
    else runOne(entry, c, md, stream, done);
  }
}

/** BatchService on the gateway's doors; it runs only the unary methods the same door serves. */
export function createBatchModule(): ServiceModule {
  return {
    name: 'loki.v1.BatchService',
    roles: ['gateway'],
    register(server, ctx) {
      const methods = ctx.unaryMethods;
      if (!methods) throw new Error('BatchService needs the door\'s unary methods (listeners.ts buildServer)');
      server.addService(BatchServiceService, { call: (stream: ServerWritableStream<BatchRequest, BatchedResult>) => serve(ctx, methods, stream) });
    },
  };
}
