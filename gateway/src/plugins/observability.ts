// One log line and one metrics observation per request, with route templates
// (never concrete ids) as labels. Log lines carry request_id (Fastify's child
// logger), subject (set by the guard) and session_id when the route has one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayMetrics } from '../metrics.js';

function sessionId(req: FastifyRequest): string | undefined {
  const p = req.params as Record<string, unknown> | undefined;
  const v = p?.session_id ?? p?.sessionId ?? (req.routeOptions.url?.includes('/sessions/') ? p?.id : undefined);
  return typeof v === 'string' ? v.slice(0, 128) : undefined;
}

/**
 * The URL as logged: ASCII %-escapes decoded, so the log's secret scrubber also
 * recognises a token that arrived percent-encoded (`%6Coki_…`, `loki%5F…`).
 */
export function loggableUrl(url: string): string {
  return url.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export const observabilityPlugin = fp(
  async (app: FastifyInstance, opts: { metrics: GatewayMetrics }) => {
    const { metrics } = opts;
    // An aborted request may get onRequestAbort, onResponse, or both: count it down once.
    const open = new WeakSet<FastifyRequest>();
    const done = (req: FastifyRequest) => {
      if (open.delete(req)) metrics.inFlight.dec();
    };
    app.addHook('onRequest', async (req) => {
      open.add(req);
      metrics.inFlight.inc();
    });
    app.addHook('onResponse', async (req, reply) => {
      done(req);
      const route = req.is404 ? undefined : req.routeOptions.url;
      const seconds = reply.elapsedTime / 1000;
      metrics.observeRequest(req.method, route, reply.statusCode, seconds);
      const sid = sessionId(req);
      req.log.info(
        {
          method: req.method,
          route: route ?? 'unmatched',
          url: loggableUrl(req.url),
          status: reply.statusCode,
          duration_ms: Math.round(reply.elapsedTime * 100) / 100,
          client_ip: req.ip,
          ...(sid ? { session_id: sid } : {}),
        },
        'request completed',
      );
    });
    app.addHook('onRequestAbort', async (req) => done(req));
  },
  { name: 'loki-observability' },
);
