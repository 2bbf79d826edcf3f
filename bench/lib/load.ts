// The in-process HTTP load loop of the B1/B10 benches (kept beside the wrk
// versions, b1-b10-wrk: the loop shares its event loop with the server measured).
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface LoadTarget {
  port: number;
  tls?: boolean;
  path: string;
  headers: Record<string, string>;
}

/** Keep-alive load loop: `concurrency` workers each issue requests back to back until the deadline. */
export async function keepAliveLoad(t: LoadTarget, ms: number, concurrency: number): Promise<{ rps: number; errors: number }> {
  const agent = t.tls ? new HttpsAgent({ keepAlive: true, maxSockets: concurrency, rejectUnauthorized: false }) : new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const send = t.tls ? httpsRequest : httpRequest;
  let done = 0;
  let errors = 0;
  const deadline = performance.now() + ms;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = send({ host: '127.0.0.1', port: t.port, path: t.path, headers: t.headers, agent }, (res) => {
        if (res.statusCode !== 200) errors++;
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await one();
        done++;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  agent.destroy();
  return { rps: (done / elapsed) * 1000, errors };
}
