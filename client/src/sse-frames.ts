// The one server-sent-events frame parser, for both the Node HTTP transport and
// the browser dashboard: text chunks in, frames out (the spec's rules: a blank
// line ends a frame, `:` lines are comments, several `data:` lines join with
// newlines, `id` persists across frames). Every event name is delivered, so a
// consumer never misses an event type it did not know about in advance.
// No node imports: the web bundle uses it too.
import { LokiError, isErrorCode } from '../../common/src/index.js';

export interface SseFrame {
  id: string;
  event: string;
  data: string;
}

export async function* sseFrames(chunks: AsyncIterable<string>): AsyncGenerator<SseFrame> {
  let buf = '';
  let cur: SseFrame = { id: '', event: 'message', data: '' };
  let hasData = false;
  for await (const chunk of chunks) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
      // A lone trailing \r may be the first half of \r\n: wait for the next chunk.
      if (nl === buf.length - 1 && buf.endsWith('\r')) break;
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

/**
 * An `event: error` frame's body, the Loki error shape `{"error":{"code","message","request_id"}}`, as a
 * LokiError. Gateways before that shape was every stream's sent a session stream's error as
 * `{"code","message"}`; that is read too.
 */
export function sseErrorFrame(data: string): LokiError {
  try {
    const v = JSON.parse(data) as { code?: unknown; message?: unknown; error?: unknown };
    const e = (v.error !== null && typeof v.error === 'object' ? v.error : v) as { code?: unknown; message?: unknown };
    const msg = typeof e.message === 'string' ? e.message : 'stream error';
    return new LokiError(isErrorCode(e.code) ? e.code : 'internal', msg);
  } catch {
    return new LokiError('internal', 'stream error');
  }
}
