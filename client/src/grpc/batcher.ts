// Unary calls to the daemon gathered per event-loop turn (the gateway's side of
// BatchService, proto/loki/v1/batch.proto). A gRPC call costs both ends far more
// than the daemon's work behind a cached read: grpc-js's call layers, an HTTP/2
// stream with its headers and trailers, and their garbage. The calls started in
// one turn of the event loop (the requests that arrived together) leave together
// at the end of it, as one BatchService call; the daemon runs each through the
// handler it would have reached alone and streams each result back as soon as it
// is ready, so a slow call never holds up a quick one. A call that is alone in
// its turn goes out as an ordinary call: at low load nothing changes.
// Each call keeps its own metadata (its request id and the end user's forwarded
// credential, which the daemon verifies per call), its own deadline and its own
// error. A daemon without BatchService (an older lokid) answers UNIMPLEMENTED
// before running anything; the calls are then sent one by one, from then on.
import { Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import type { BatchedCall, BatchedResult, BatchServiceClient } from '../../../proto/gen/loki/v1/batch.js';
import type { Unary } from './daemon-client-wire.js';

/** The most calls sent in one batch (the daemon takes up to 128). */
export const MAX_BATCH = 64;
/** A request this large goes alone: a batch stays well under the daemon's 4 MiB message limit. */
const MAX_BATCHED_REQUEST_BYTES = 32 * 1024;

type Callback = (err: ServiceError | null, res?: unknown) => void;

/** What grpc-js attaches to a generated client's method (make-client.js). */
interface MethodAttrs {
  path?: string;
  requestSerialize?: (req: unknown) => Buffer;
  responseDeserialize?: (buf: Buffer) => unknown;
}

interface Batch {
  stream: { cancel(): void };
  open: number;
}

class Queued {
  /** The ordinary call, once sent alone. */
  call: { cancel(): void } | undefined;
  batch: Batch | undefined;
  ended = false;
  constructor(
    readonly client: Client,
    readonly method: Unary<unknown, unknown> & MethodAttrs,
    readonly req: unknown,
    readonly md: Metadata,
    private readonly cb: Callback,
  ) {}

  /** Ends the call with `err` or `res`, once. */
  end(err: ServiceError | null, res?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.batch) this.batch.open--;
    this.cb(err, res);
  }

  /**
   * What the caller holds: cancelling ends the call as CANCELLED, as grpc-js does. The
   * daemon runs a batched call to its end (as it does a lone unary call: no handler
   * watches for cancellation); a batch whose calls were all cancelled is cancelled.
   */
  cancel(): void {
    if (this.call) return this.call.cancel();
    this.end(serviceError(status.CANCELLED, 'Cancelled on client'));
    if (this.batch && this.batch.open === 0) this.batch.stream.cancel();
  }
}

function serviceError(code: number, details: string, errorCode = ''): ServiceError {
  const metadata = new Metadata();
  if (errorCode) metadata.set('x-loki-error-code', errorCode);
  const err = new Error(`${code} ${status[code] ?? 'UNKNOWN'}: ${details}`) as ServiceError;
  err.code = code;
  err.details = details;
  err.metadata = metadata;
  return err;
}

/** A call grpc-js refused to start (a closed channel): the daemon is out of reach for it. */
function notStarted(err: unknown): ServiceError {
  return serviceError(status.UNAVAILABLE, err instanceof Error ? err.message : String(err));
}

const NO_CALL_OPTIONS = Object.freeze({});

export class CallBatcher {
  private queue: Queued[] = [];
  private supported = true;
  private readonly flushNow = () => this.flush();

  /** `onBatch` is told how many calls each BatchService call carries (the gateway's metric). */
  constructor(
    private readonly service: BatchServiceClient,
    private readonly onBatch?: (calls: number) => void,
  ) {}

  /** Starts one unary call (alone or batched); the handle cancels it. */
  call<Req, Res>(client: Client, method: Unary<Req, Res>, req: Req, md: Metadata, cb: (err: ServiceError | null, res: Res) => void): { cancel(): void } {
    const q = new Queued(client, method as Unary<unknown, unknown> & MethodAttrs, req, md, cb as Callback);
    if (this.queue.push(q) === 1) setImmediate(this.flushNow);
    return q;
  }

  private flush(): void {
    const queued = this.queue;
    this.queue = [];
    const batchable: { q: Queued; request: Buffer }[] = [];
    for (const q of queued) {
      if (q.ended) continue;
      const m = q.method;
      let request: Buffer | undefined;
      if (this.supported && m.path && m.requestSerialize && m.responseDeserialize) {
        try {
          request = m.requestSerialize(q.req);
        } catch {
          request = undefined; // sent alone: grpc-js reports the serialization error as it always has
        }
      }
      if (request && request.length <= MAX_BATCHED_REQUEST_BYTES) batchable.push({ q, request });
      else this.alone(q);
    }
    for (let i = 0; i < batchable.length; i += MAX_BATCH) {
      const part = batchable.slice(i, i + MAX_BATCH);
      if (part.length === 1) this.alone(part[0]!.q);
      else this.send(part);
    }
  }

  private alone(q: Queued): void {
    try {
      q.call = q.method.call(q.client, q.req, q.md, NO_CALL_OPTIONS, (err, res) => q.end(err, res));
    } catch (err) {
      // grpc-js throws when the channel is already closed (the gateway shutting down);
      // this runs from setImmediate, where a throw would end the process.
      q.end(notStarted(err));
    }
  }

  private send(part: { q: Queued; request: Buffer }[]): void {
    const calls: BatchedCall[] = part.map(({ q, request }, id) => ({ id, method: q.method.path!, request, metadata: metadataMap(q.md) }));
    let stream: ReturnType<BatchServiceClient['call']>;
    try {
      stream = this.service.call({ calls }, new Metadata(), NO_CALL_OPTIONS);
    } catch (err) {
      for (const { q } of part) q.end(notStarted(err));
      return;
    }
    this.onBatch?.(calls.length);
    const batch: Batch = { stream, open: part.length };
    for (const { q } of part) q.batch = batch;
    let answered = 0;
    stream.on('data', (r: BatchedResult) => {
      const q = part[r.id]?.q;
      if (!q || q.ended) return;
      answered++;
      if (r.code !== status.OK) return q.end(serviceError(r.code, r.details, r.errorCode));
      let res: unknown;
      try {
        res = q.method.responseDeserialize!(Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength));
      } catch {
        return q.end(serviceError(status.INTERNAL, 'Failed to parse server response'));
      }
      q.end(null, res);
    });
    let settled = false;
    const unanswered = (err: ServiceError) => {
      // 'error' and then 'end' both come for a failed stream: the first one settles the batch.
      if (settled) return;
      settled = true;
      // No BatchService on this daemon: nothing ran; send these alone, and every call from now on.
      if (err.code === status.UNIMPLEMENTED && answered === 0 && /BatchService/.test(err.details ?? '')) {
        this.supported = false;
        for (const { q } of part) {
          if (q.ended) continue;
          q.batch = undefined;
          this.alone(q);
        }
        return;
      }
      for (const { q } of part) q.end(err);
    };
    stream.on('error', unanswered);
    // A stream that ended OK must have answered every call; one it left out fails rather than hangs.
    stream.on('end', () => unanswered(serviceError(status.INTERNAL, 'the daemon ended a batch without answering every call')));
  }
}

/** The call's metadata as BatchService carries it (string values; Loki sends no binary metadata). */
function metadataMap(md: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  const map = md.getMap();
  for (const k in map) {
    const v = map[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}
