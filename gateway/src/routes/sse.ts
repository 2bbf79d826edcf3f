// Server-Sent Events from any AsyncIterable the Loki client yields. Pulling
// is the back-pressure: the next item is taken only after the socket drained,
// and a client that does not drain within `slowClientMs` is disconnected (it
// resumes with Last-Event-ID). Proxies are told not to buffer, and a comment
// line every `heartbeatMs` keeps idle connections open through them.
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LokiError } from '../../../common/src/index.js';
import { onCredentialLost, streamEnded } from '../plugins/stream-credentials.js';

export interface SseFrame {
  id?: number | string;
  event: string;
  data: unknown;
}

export interface SseOptions {
  /** Comment line interval (default 15 s). */
  heartbeatMs?: number;
  /** Disconnect a client that has not drained its socket for this long (default 30 s). */
  slowClientMs?: number;
}

/** The numeric Last-Event-ID header, or `fallback` when absent; 400 when it is not a number. */
export function lastEventId(req: FastifyRequest, fallback: number | undefined): number {
  const h = req.headers['last-event-id'];
  if (h === undefined || h === '') return fallback ?? 0;
  const v = Array.isArray(h) ? h[0]! : h;
  if (!/^\d{1,15}$/.test(v)) throw new LokiError('invalid_argument', 'Last-Event-ID must be the numeric id of an event');
  return Number(v);
}

const eventName = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_') || 'message';

export function formatFrame(f: SseFrame): string {
  // JSON has no raw newlines, so one data line always suffices.
  return `${f.id === undefined ? '' : `id: ${f.id}\n`}event: ${eventName(f.event)}\ndata: ${JSON.stringify(f.data)}\n\n`;
}

/** Which streams also repeat `code` and `message` at the top level of their error frames. */
export type ErrorFrameShape = 'loki' | 'session';

/**
 * The `event: error` frame that ends a stream: the Loki error shape, `{"error":{"code","message","request_id"}}`.
 * A session's event stream sent `{"code","message"}` before, and that shape is documented (docs/api.md), so
 * its frames (`session`) carry both: the `error` object, and `code` and `message` beside it for clients
 * written to the old shape.
 */
export function errorFrame(err: { code: string; message: string }, requestId: string, shape: ErrorFrameShape = 'loki'): string {
  const error = { code: err.code, message: err.message, request_id: requestId };
  return formatFrame({ event: 'error', data: shape === 'session' ? { error, code: err.code, message: err.message } : { error } });
}

/**
 * Says goodbye on `out` when the stream's credential stops passing (revoked, expired, signed out):
 * an `event: error` frame with code `unauthenticated`, then the end, so a client knows to sign in
 * again instead of reconnecting with a credential that will only be refused. Once `out` is over, the
 * credential watch stops: the kept-alive connection may carry the client's next request.
 */
export function endOnCredentialLost(req: FastifyRequest, out: PassThrough, finish: () => void, shape: ErrorFrameShape = 'loki'): void {
  out.once('close', () => streamEnded(req));
  onCredentialLost(req, (err) => {
    if (!out.writableEnded && !out.destroyed) out.write(errorFrame(err, req.id, shape));
    finish();
  });
}

/**
 * Streams `source(signal)` to the client. Errors after the 200 went out become
 * an `event: error` frame in the Loki error shape; the stream then ends.
 */
export function sendSse<T>(req: FastifyRequest, reply: FastifyReply, source: (signal: AbortSignal) => AsyncIterable<T>, toFrame: (item: T) => SseFrame | undefined, o: SseOptions = {}): FastifyReply {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  const abort = new AbortController();
  let closed = false;
  const beat = setInterval(() => {
    if (out.writableLength === 0) out.write(': heartbeat\n\n');
  }, o.heartbeatMs ?? 15_000);
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(beat);
    abort.abort();
    out.end();
  };
  req.raw.on('close', finish);
  endOnCredentialLost(req, out, finish);

  const drained = () =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        out.off('drain', onDrain);
        resolve(false);
      }, o.slowClientMs ?? 30_000);
      const onDrain = () => {
        clearTimeout(timer);
        resolve(true);
      };
      out.once('drain', onDrain);
    });

  void (async () => {
    try {
      for await (const item of source(abort.signal)) {
        if (closed) break;
        const f = toFrame(item);
        if (f && !out.write(formatFrame(f)) && !(await drained())) {
          req.log.info('closing a slow SSE client');
          break;
        }
      }
    } catch (err) {
      if (!closed) {
        const le = err instanceof LokiError ? err : new LokiError('internal', 'the stream failed', { cause: err });
        if (le.kind === 'internal') req.log.error({ err }, 'SSE stream failed');
        out.write(errorFrame(le, req.id));
      }
    } finally {
      finish();
    }
  })();

  out.write('retry: 3000\n\n');
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    .header('x-accel-buffering', 'no')
    .send(out);
}
