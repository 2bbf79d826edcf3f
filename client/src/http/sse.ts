// Server-sent events from the gateway as an AsyncIterable, resumed after a
// dropped connection with Last-Event-ID (client/src/resume.ts) so nothing is
// lost or repeated. `event: error` frames carry a Loki error body.
import type { IncomingMessage } from 'node:http';
import { LokiError } from '../../../common/src/index.js';
import { resumable, type ReconnectListener } from '../resume.js';
import { sseErrorFrame, sseFrames, type SseFrame } from '../sse-frames.js';
import { fail, open, type HttpCall, type HttpTarget } from './request.js';

/** Parses one response body into frames. */
export function frames(res: IncomingMessage): AsyncGenerator<SseFrame> {
  res.setEncoding('utf8');
  return sseFrames(res as AsyncIterable<string>);
}

export interface SseStreamOptions<T> {
  call: Omit<HttpCall, 'method'>;
  /** Frame → item; undefined skips it (heartbeats, `end`). */
  map(f: SseFrame): T | undefined;
  cursorOf(item: T): number;
  start: number;
  /** Reconnect on a dropped connection (off for finite streams such as logs without follow). */
  resume: boolean;
  signal?: AbortSignal;
  onReconnect?: ReconnectListener | undefined;
}

function once<T>(t: HttpTarget, o: SseStreamOptions<T>, cursor: number): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const headers: Record<string, string> = { accept: 'text/event-stream', ...o.call.headers };
      if (cursor > 0) headers['last-event-id'] = String(cursor);
      const res = await open(t, { ...o.call, method: 'GET', headers, timeoutMs: o.call.timeoutMs ?? t.timeoutMs });
      if ((res.statusCode ?? 0) !== 200) await fail(res, o.call.path);
      try {
        for await (const f of frames(res)) {
          if (f.event === 'error') throw sseErrorFrame(f.data);
          const item = o.map(f);
          if (item !== undefined) yield item;
        }
      } catch (err) {
        if (err instanceof LokiError) throw err;
        throw new LokiError('unavailable', 'the event stream was cut', { cause: err });
      } finally {
        res.destroy();
      }
      // A follow stream that ends without the server saying so is a dropped connection.
      if (o.resume && !res.complete) throw new LokiError('unavailable', 'the event stream was cut');
    },
  };
}

export function sse<T>(t: HttpTarget, o: SseStreamOptions<T>): AsyncIterable<T> {
  const signal = o.signal;
  const call = { ...o.call, ...(signal ? { signal } : {}) };
  const opts = { ...o, call };
  if (!o.resume) return once(t, opts, o.start);
  return resumable({ start: o.start, cursorOf: o.cursorOf, open: (c) => once(t, opts, c), signal, onReconnect: o.onReconnect });
}
