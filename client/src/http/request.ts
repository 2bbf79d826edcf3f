// HTTP(S) to the gateway with node:http/https (not fetch: Node 20's fetch
// cannot take a private CA without importing undici). One place sets the
// bearer token, the request id, the CA and the timeouts, and turns every
// failure into a LokiError through the one decoder.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomUUID } from 'node:crypto';
import { LokiError } from '../../../common/src/index.js';
import { decodeFetchFailure, decodeHttpError } from '../errors.js';

export interface HttpTarget {
  /** Base URL, e.g. https://loki.example:57374 (a path prefix is kept). */
  url: URL;
  token?: string;
  /** PEM CA bundle that signed the gateway's certificate (for a private CA). */
  ca?: string | Buffer;
  timeoutMs: number;
}

export interface HttpCall {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** Arrays become repeated parameters (`?root=/a&root=/b`). */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export function urlFor(t: HttpTarget, path: string, query?: HttpCall['query']): URL {
  const u = new URL(t.url.href.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (Array.isArray(v)) for (const x of v as readonly string[]) u.searchParams.append(k, x);
    else if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

/** Opens a request and resolves with the response once the headers arrive (the body is the caller's). */
export function open(t: HttpTarget, c: HttpCall): Promise<IncomingMessage> {
  const u = urlFor(t, c.path, c.query);
  const payload = c.body === undefined ? undefined : Buffer.from(JSON.stringify(c.body));
  const headers: Record<string, string> = {
    accept: 'application/json',
    'x-request-id': randomUUID(),
    ...(t.token ? { authorization: `Bearer ${t.token}` } : {}),
    ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
    ...c.headers,
  };
  const fn = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = fn(u, { method: c.method, headers, ...(t.ca ? { ca: t.ca } : {}), signal: c.signal }, resolve);
    // Until headers arrive; a stream's idle time after that is the caller's business.
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), c.timeoutMs ?? t.timeoutMs);
    req.once('response', () => clearTimeout(timer));
    req.once('error', (err) => {
      clearTimeout(timer);
      if (c.signal?.aborted) reject(new LokiError('unavailable', 'cancelled', { cause: err }));
      else reject(decodeFetchFailure({ name: err.name, message: err.message, cause: err }, t.url.origin));
    });
    req.end(payload);
  });
}

async function readBody(res: IncomingMessage, limit = 64 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) throw new LokiError('payload_too_large', 'the gateway answer is larger than the client accepts');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads an error response and throws the LokiError it carries. */
export async function fail(res: IncomingMessage, url: string): Promise<never> {
  const text = await readBody(res, 1024 * 1024).catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  throw decodeHttpError(res.statusCode ?? 0, body, url);
}

/** A JSON call: resolves with the parsed 2xx body, rejects with the decoded LokiError. */
export async function json<T>(t: HttpTarget, c: HttpCall): Promise<T> {
  const res = await open(t, c);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) return fail(res, c.path);
  const text = await readBody(res);
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new LokiError('internal', `the gateway answered ${c.path} with something that is not JSON`, { cause: err });
  }
}
