// A forwarder for the model endpoint, so sandboxes can stay `NetworkMode: none`.
// It listens on a unix socket inside the session's agent dir (mounted into that
// one container) and forwards only chat-completions POSTs to the configured
// upstream (a loopback/LAN Ollama, vLLM or llama.cpp server). Nothing else is
// reachable through it: no other paths, methods, hosts or upgrades.
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import type { Logger } from '../../../common/src/index.js';

export interface ModelProxyOptions {
  /** Host path of the socket, normally `<agentDir>/model.sock`. */
  socketPath: string;
  /** Base URL of the upstream, e.g. `http://127.0.0.1:11434/v1`. */
  upstream: URL;
  log: Logger;
  /** Request body cap (default 4 MiB). */
  maxBodyBytes?: number;
  /** Upstream response timeout (default 10 minutes: local models can be slow). */
  timeoutMs?: number;
}

export interface ModelProxy {
  socketPath: string;
  close(): Promise<void>;
}

const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept', 'user-agent'];

/** `/chat/completions` under the upstream's base path (with or without a `/v1` the runner adds). */
function allowedPath(reqPath: string, basePath: string): string | undefined {
  const path = reqPath.split('?')[0] ?? '';
  const base = basePath.replace(/\/+$/, '');
  if (path === `${base}/chat/completions`) return path;
  if (path === '/chat/completions' || path === '/v1/chat/completions') return `${base}/chat/completions`;
  return undefined;
}

function reject(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'loki_model_proxy' } }));
}

export async function startModelProxy(o: ModelProxyOptions): Promise<ModelProxy> {
  if (o.upstream.protocol !== 'http:' && o.upstream.protocol !== 'https:') throw new Error('model proxy upstream must be http(s)');
  const log = o.log.child({ component: 'model-proxy' });
  const maxBody = o.maxBodyBytes ?? 4 * 1024 * 1024;
  const timeoutMs = o.timeoutMs ?? 600_000;
  const send = o.upstream.protocol === 'https:' ? httpsRequest : httpRequest;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const target = allowedPath(req.url ?? '', o.upstream.pathname);
    if (req.method !== 'POST' || !target) return reject(res, 403, 'only POST …/chat/completions is forwarded');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) return reject(res, 413, `request body larger than ${maxBody} bytes`);
    const headers: Record<string, string> = {};
    for (const h of FORWARDED_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    const up = send(
      { protocol: o.upstream.protocol, hostname: o.upstream.hostname, port: o.upstream.port, path: target, method: 'POST', headers, timeout: timeoutMs },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, { 'content-type': ur.headers['content-type'] ?? 'application/json' });
        ur.pipe(res);
      },
    );
    up.on('timeout', () => up.destroy(new Error('upstream timed out')));
    up.on('error', (err) => {
      // Never log headers: the Authorization header carries the model API key.
      log.warn({ err: err.message, upstream: o.upstream.host }, 'model upstream failed');
      if (!res.headersSent) reject(res, 502, 'model upstream unavailable');
      else res.destroy();
    });
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        up.destroy();
        if (!res.headersSent) reject(res, 413, `request body larger than ${maxBody} bytes`);
        req.destroy();
        return;
      }
      up.write(chunk);
    });
    req.on('end', () => up.end());
  };

  const server: Server = createServer(handle);
  if (existsSync(o.socketPath)) unlinkSync(o.socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => resolve());
  });
  // Same reasoning as agent.sock: the sandbox user differs from the daemon's,
  // and the directory is reachable only from this one container.
  chmodSync(o.socketPath, 0o666);
  return {
    socketPath: o.socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
