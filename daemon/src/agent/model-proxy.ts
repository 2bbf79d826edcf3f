// The host-side model proxy, so sandboxes stay `NetworkMode: none` and hold no
// key. It listens on a unix socket inside the session's agent dir (mounted into
// that one container) and forwards only the model API's POSTs (chat completions
// for OpenAI-compatible servers, messages for Anthropic) to the one upstream it
// was started for, adding that upstream's key itself. Whatever credential the
// sandbox sends is dropped. Nothing else is reachable through it: no other
// paths, methods, hosts or upgrades.
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { chmodSync, existsSync, lchownSync, unlinkSync } from 'node:fs';
import { Transform } from 'node:stream';
import type { Logger } from '../../../common/src/index.js';

export interface ModelProxyOptions {
  /** Host path of the socket, normally `<agentDir>/model.sock`. */
  socketPath: string;
  /** Base URL of the upstream, e.g. `http://127.0.0.1:11434/v1`. */
  upstream: URL;
  /** Which API: `openai` (chat completions, Bearer key) or `anthropic` (messages, x-api-key). Default openai. */
  kind?: 'openai' | 'anthropic';
  /** Secret: the upstream's key, added here on the host ('' = send none). */
  apiKey?: string;
  /** Owner (the sandbox uid) and mode of the socket; default: the daemon's, 0600. */
  owner?: { uid: number; gid: number };
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

// Never `authorization` or `x-api-key`: the only credential upstream is the one added here.
const FORWARDED_HEADERS = {
  openai: ['content-type', 'accept', 'user-agent'],
  anthropic: ['content-type', 'accept', 'user-agent', 'anthropic-version', 'anthropic-beta'],
};

/** The upstream path for a sandbox request, or undefined when it is not the model API. */
function allowedPath(kind: 'openai' | 'anthropic', reqUrl: string, basePath: string): string | undefined {
  const [path = '', query] = reqUrl.split('?', 2);
  const base = basePath.replace(/\/+$/, '');
  if (kind === 'anthropic') {
    // Claude Code asks for /v1/messages (and count_tokens), sometimes with ?beta=true.
    if (path !== '/v1/messages' && path !== '/v1/messages/count_tokens') return undefined;
    if (query !== undefined && query !== 'beta=true') return undefined;
    return `${base}${path}${query ? `?${query}` : ''}`;
  }
  if (path === `${base}/chat/completions`) return path;
  if (path === '/chat/completions' || path === '/v1/chat/completions') return `${base}/chat/completions`;
  return undefined;
}

function credentialHeader(kind: 'openai' | 'anthropic', key: string): Record<string, string> {
  if (!key) return {};
  return kind === 'anthropic' ? { 'x-api-key': key } : { authorization: `Bearer ${key}` };
}

const KEY_REMOVED = Buffer.from('[key removed by Loki]');

/**
 * Removes the key from the upstream's answer, even when it is split across
 * chunks: a server that echoes the credential it got (in an error message, say)
 * would otherwise hand it to the sandbox, and the runner quotes error bodies into
 * events. Only a tail that could start the key is held back, so streams flow.
 */
function scrubKey(key: string): Transform {
  const needle = Buffer.from(key);
  let carry = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const out: Buffer[] = [];
      for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle)) {
        out.push(buf.subarray(0, i), KEY_REMOVED);
        buf = buf.subarray(i + needle.length);
      }
      let keep = Math.min(buf.length, needle.length - 1);
      while (keep > 0 && !needle.subarray(0, keep).equals(buf.subarray(buf.length - keep))) keep--;
      out.push(buf.subarray(0, buf.length - keep));
      carry = Buffer.from(buf.subarray(buf.length - keep));
      done(null, Buffer.concat(out));
    },
    flush(done) {
      done(null, carry);
    },
  });
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
  const kind = o.kind ?? 'openai';
  const credential = credentialHeader(kind, o.apiKey ?? '');

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const target = allowedPath(kind, req.url ?? '', o.upstream.pathname);
    if (req.method !== 'POST' || !target) return reject(res, 403, kind === 'anthropic' ? 'only POST /v1/messages is forwarded' : 'only POST …/chat/completions is forwarded');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) return reject(res, 413, `request body larger than ${maxBody} bytes`);
    const headers: Record<string, string> = {};
    for (const h of FORWARDED_HEADERS[kind]) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    Object.assign(headers, credential);
    let up: ReturnType<typeof send>;
    try {
      up = send(
        { protocol: o.upstream.protocol, hostname: o.upstream.hostname, port: o.upstream.port, path: target, method: 'POST', headers, timeout: timeoutMs },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, { 'content-type': ur.headers['content-type'] ?? 'application/json' });
          if (o.apiKey) ur.pipe(scrubKey(o.apiKey)).pipe(res);
          else ur.pipe(res);
        },
      );
    } catch (err) {
      // Node refuses a header it cannot send (a forwarded one, or a key the config let
      // through) by throwing here, in the daemon's request handler: answer, never crash.
      log.warn({ err: (err as Error).message, upstream: o.upstream.host }, 'model request not sent');
      return reject(res, 502, 'model proxy could not build the upstream request');
    }
    up.on('timeout', () => up.destroy(new Error('upstream timed out')));
    up.on('error', (err) => {
      // Never log headers: they carry the model API key.
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
  // Only the sandbox user may connect (its directory is closed to everyone else too).
  if (o.owner) lchownSync(o.socketPath, o.owner.uid, o.owner.gid);
  chmodSync(o.socketPath, 0o600);
  return {
    socketPath: o.socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
