// JSON POST to the model endpoint, either over TCP (fetch) or, in a
// network-less sandbox, over the unix socket the daemon forwards.
import { request } from 'node:http';

export interface PostOptions {
  url: URL;
  body: unknown;
  headers: Record<string, string>;
  /** When set, the request goes over this unix socket; the URL supplies only the path. */
  socketPath?: string;
  timeoutMs: number;
}

export interface PostResult {
  status: number;
  text: string;
}

const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export async function postJson(o: PostOptions): Promise<PostResult> {
  const payload = JSON.stringify(o.body);
  if (!o.socketPath) {
    const res = await fetch(o.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...o.headers },
      body: payload,
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: o.socketPath,
        path: `${o.url.pathname}${o.url.search}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), host: o.url.host, ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('model response too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    // A deadline for the whole exchange, not an idle timeout: a server that
    // trickles a byte now and then would otherwise keep the run waiting forever.
    const deadline = setTimeout(() => req.destroy(new Error(`model request timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('error', reject);
    req.end(payload);
  });
}
