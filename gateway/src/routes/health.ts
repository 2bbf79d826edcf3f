// Public liveness/readiness probes. /healthz/ready answers 503 when the daemon
// is unreachable or the gateway is nearly saturated, so a load balancer drains it.
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../../common/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import type { RequestLimiter } from '../limits/limiter.js';
import type { RouteAccess } from './access.js';

export interface HealthRouteOptions {
  daemon: DaemonClient;
  limiter: RequestLimiter;
  /** How long one daemon probe result is reused, so probes cannot hammer the daemon. */
  probeCacheMs?: number;
}

const PUBLIC: RouteAccess = { scope: 'public', rateLimit: 'exempt' };
const noInput = { querystring: { type: 'object', properties: {}, additionalProperties: false } } as const;
const MIN_HEADROOM = 0.1;

export async function healthRoutes(app: FastifyInstance, opts: HealthRouteOptions): Promise<void> {
  const cacheMs = opts.probeCacheMs ?? 1000;
  let last: { at: number; ok: boolean; pending?: Promise<boolean> } = { at: 0, ok: false };

  async function daemonServing(): Promise<boolean> {
    const now = Date.now();
    if (now - last.at < cacheMs) return last.ok;
    // Concurrent probes share one in-flight check.
    if (last.pending) return last.pending;
    const pending = opts.daemon.isServing(2000);
    last = { ...last, pending };
    const ok = await pending;
    last = { at: Date.now(), ok };
    return ok;
  }

  app.get('/health', { config: { access: PUBLIC }, schema: noInput }, async () => ({ status: 'ok', service: 'loki-gateway', version: VERSION }));

  app.get('/healthz/live', { config: { access: PUBLIC }, schema: noInput }, async () => ({ status: 'ok' }));

  app.get('/healthz/ready', { config: { access: PUBLIC }, schema: noInput }, async (_req, reply) => {
    const daemonOk = await daemonServing();
    const headroomOk = opts.limiter.headroom() >= MIN_HEADROOM;
    const ready = daemonOk && headroomOk;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: { daemon: daemonOk ? 'ok' : 'unreachable', capacity: headroomOk ? 'ok' : 'saturated' },
    });
  });
}
