// Sandbox exec / interactive shell over the gateway's WebSocket
// (GET /api/sandboxes/:id/exec|shell). Text frames are JSON control messages,
// binary frames are bytes: up = stdin; down = output, prefixed with 1 (stdout)
// or 2 (stderr) without a TTY, raw with one. The bearer token goes in the
// Authorization header of the upgrade request, never in the URL.
import { WebSocket } from 'ws';
import { LokiError, isErrorCode } from '../../../common/src/index.js';
import type { ExecOptions, ExecOutput, ExecSession } from '../types.js';
import { decodeFetchFailure, decodeHttpError } from '../errors.js';
import { urlFor, type HttpTarget } from './request.js';

export function startWsExec(t: HttpTarget, id: string, o: ExecOptions): Promise<ExecSession> {
  // An interactive shell (empty argv with a TTY) goes to /shell; everything else to /exec.
  const route = o.argv.length === 0 && o.tty ? 'shell' : 'exec';
  const u = urlFor(t, `/api/sandboxes/${encodeURIComponent(id)}/${route}`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(u, {
    headers: t.token ? { authorization: `Bearer ${t.token}` } : {},
    ...(t.ca ? { ca: t.ca } : {}),
    handshakeTimeout: t.timeoutMs,
  });
  const queue: ExecOutput[] = [];
  let failure: LokiError | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (o.tty) queue.push({ stream: 'stdout', data: Uint8Array.from(data) });
      else if (data.length > 0) queue.push({ stream: data[0] === 2 ? 'stderr' : 'stdout', data: Uint8Array.from(data.subarray(1)) });
    } else {
      let m: { type?: string; exit_code?: number; error?: { code?: unknown; message?: unknown } } = {};
      try {
        m = JSON.parse(data.toString('utf8')) as typeof m;
      } catch {
        return;
      }
      if (m.type === 'exit' && typeof m.exit_code === 'number') queue.push({ stream: 'exit', exit_code: m.exit_code });
      if (m.type === 'error') {
        const code = isErrorCode(m.error?.code) ? m.error.code : 'internal';
        failure = new LokiError(code, typeof m.error?.message === 'string' ? m.error.message : 'exec failed');
      }
    }
    notify();
  });
  ws.on('close', () => {
    ended = true;
    notify();
  });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        reject(decodeHttpError(res.statusCode ?? 0, body, u.pathname));
      });
    });
    ws.once('error', (err) => reject(decodeFetchFailure({ name: err.name, message: err.message, cause: err }, t.url.origin)));
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'start', argv: o.argv, tty: o.tty ?? false, cols: o.cols ?? 80, rows: o.rows ?? 24, env: o.env ?? {}, workdir: o.workdir ?? '' }));
      const send = (d: string | Buffer) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(d);
      };
      resolve({
        [Symbol.asyncIterator]: () => ({
          async next(): Promise<IteratorResult<ExecOutput>> {
            for (;;) {
              if (queue.length) return { value: queue.shift()!, done: false };
              if (failure) {
                const f = failure;
                failure = undefined;
                throw f;
              }
              if (ended) return { value: undefined, done: true };
              await new Promise<void>((r) => (wake = r));
            }
          },
          async return(): Promise<IteratorResult<ExecOutput>> {
            ws.close();
            return { value: undefined, done: true };
          },
        }),
        write: (d) => send(typeof d === 'string' ? Buffer.from(d) : Buffer.from(d)),
        resize: (cols, rows) => send(JSON.stringify({ type: 'resize', cols, rows })),
        closeStdin: () => send(JSON.stringify({ type: 'close_stdin' })),
        cancel: () => ws.close(),
      });
    });
  });
}
