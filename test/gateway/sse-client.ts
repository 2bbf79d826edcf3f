// A minimal SSE reader over a real HTTP connection, for gateway tests.
import { request, type IncomingMessage } from 'node:http';

export interface SseMessage {
  id?: string;
  event: string;
  data: unknown;
}

export interface SseRead {
  status: number;
  headers: IncomingMessage['headers'];
  events: SseMessage[];
  /** Every byte received, comments (heartbeats) included. */
  raw: string;
}

/** Reads frames until `stop(events, raw)` is true, the server ends the stream, or `timeoutMs` passes. */
export function readSse(port: number, path: string, headers: Record<string, string>, stop: (events: SseMessage[], raw: string) => boolean, timeoutMs = 30_000): Promise<SseRead> {
  return new Promise((resolve, reject) => {
    let all = '';
    // No keep-alive pool: a finished stream's socket closes, so tests can count the server's open connections.
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let buf = '';
      const events: SseMessage[] = [];
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, events, raw: all });
      };
      const timer = setTimeout(done, timeoutMs);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        all += chunk;
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: Record<string, string> = {};
          for (const line of frame.split('\n')) {
            if (!line || line.startsWith(':')) continue;
            const c = line.indexOf(':');
            f[line.slice(0, c)] = line.slice(c + 1).replace(/^ /, '');
          }
          if (f.data !== undefined) events.push({ ...(f.id !== undefined ? { id: f.id } : {}), event: f.event ?? 'message', data: JSON.parse(f.data) as unknown });
        }
        if (stop(events, all)) done();
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads the stream until the server ends it; resolves with how long that took, or 'open' after `limitMs`. */
export async function endsWithin(res: Response, limitMs: number): Promise<number | 'open'> {
  const started = Date.now();
  const reader = res.body!.getReader();
  const timer = setTimeout(() => void reader.cancel('still open'), limitMs);
  try {
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  } catch {
    // cut by the server (socket destroyed)
  } finally {
    clearTimeout(timer);
  }
  const took = Date.now() - started;
  return took >= limitMs ? 'open' : took;
}

/**
 * Reads the stream until the server ends it, within `limitMs`: its last frame (event and data), and
 * whether the server ended it ('end') or cut the connection ('cut'); 'open' when it outlived the limit.
 */
export async function lastFrameWithin(res: Response, limitMs: number): Promise<{ ended: 'end' | 'cut' | 'open'; event?: string; data?: unknown; text: string }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  let ended: 'end' | 'cut' | 'open' = 'end';
  const timer = setTimeout(() => {
    ended = 'open';
    void reader.cancel('still open');
  }, limitMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } catch {
    if (ended === 'end') ended = 'cut';
  } finally {
    clearTimeout(timer);
  }
  const frames = text.split('\n\n').filter((f) => /^data: /m.test(f));
  const last = frames[frames.length - 1];
  if (!last) return { ended, text };
  return { ended, text, event: /^event: (.*)$/m.exec(last)?.[1] ?? 'message', data: JSON.parse(/^data: (.*)$/m.exec(last)![1]!) as unknown };
}
