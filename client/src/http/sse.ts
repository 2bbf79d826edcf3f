// Server-sent events from the gateway as an AsyncIterable, resumed after a
// dropped connection with Last-Event-ID (client/src/resume.ts) so nothing is
// lost or repeated. `event: error` frames carry a Loki error body.
import type { IncomingMessage } from 'node:http';
import { LokiError, isErrorCode } from '../../../common/src/index.js';
import { resumable } from '../resume.js';
import { fail, open, type HttpCall, type HttpTarget } from './request.js';

export interface SseFrame {
  id: string;
  event: string;
  data: string;
}

/** Parses one response body into frames (spec: blank line ends a frame; `:` lines are comments). */
export async function* frames(res: IncomingMessage): AsyncGenerator<SseFrame> {
  let buf = '';
  let cur: SseFrame = { id: '', event: 'message', data: '' };
  let hasData = false;
  res.setEncoding('utf8');
  for await (const chunk of res) {
    buf += chunk as string;
    let nl: number;
    while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (hasData) yield cur;
        cur = { id: cur.id, event: 'message', data: '' };
        hasData = false;
        continue;
      }
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'data') {
        cur.data = hasData ? `${cur.data}\n${value}` : value;
        hasData = true;
      } else if (field === 'event') cur.event = value;
      else if (field === 'id') cur.id = value;
    }
  }
}

function errorFrame(data: string): LokiError {
  try {
    const v = JSON.parse(data) as { code?: unknown; message?: unknown; error?: { code?: unknown; message?: unknown } };
    const e = v.error ?? v;
    const msg = typeof e.message === 'string' ? e.message : 'stream error';
    return new LokiError(isErrorCode(e.code) ? e.code : 'internal', msg);
  } catch {
    return new LokiError('internal', 'stream error');
  }
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
          if (f.event === 'error') throw errorFrame(f.data);
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
  return resumable({ start: o.start, cursorOf: o.cursorOf, open: (c) => once(t, opts, c), signal });
}
