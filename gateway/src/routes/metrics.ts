// GET /metrics in Prometheus text format: `read` scope on the main listener,
// or unauthenticated on a separate private listener (metrics.listen).
import Fastify, { type FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../metrics.js';
import type { RouteAccess } from './access.js';

async function render(metrics: GatewayMetrics, reply: import('fastify').FastifyReply) {
  const { contentType, body } = await metrics.render();
  return reply.type(contentType).send(body);
}

export async function metricsRoutes(app: FastifyInstance, opts: { metrics: GatewayMetrics }): Promise<void> {
  const access: RouteAccess = { scope: 'read' };
  app.get('/metrics', { config: { access }, schema: { querystring: { type: 'object', properties: {} } } }, async (_req, reply) =>
    render(opts.metrics, reply),
  );
}

/** The private metrics listener: only /metrics, no auth (bind it to loopback or a private network). */
export function buildMetricsApp(metrics: GatewayMetrics): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => render(metrics, reply));
  return app;
}
