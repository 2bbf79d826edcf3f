// One log line and one metrics observation per request, with route templates
// (never concrete ids) as labels. Log lines carry request_id (Fastify's child
// logger), subject (set by the guard) and session_id when the route has one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayMetrics } from '../metrics.js';
import { RequestLogger } from './request-logger.js';

function sessionId(req: FastifyRequest, route: string | undefined): string | undefined {
  const p = req.params as Record<string, unknown> | undefined;
  const v = p?.session_id ?? p?.sessionId ?? (route?.includes('/sessions/') ? p?.id : undefined);
  return typeof v === 'string' ? v.slice(0, 128) : undefined;
}

/**
 * The URL as logged: ASCII %-escapes decoded, so the log's secret scrubber also
 * recognises a token that arrived percent-encoded (`%6Coki_…`, `loki%5F…`).
 */
export function loggableUrl(url: string): string {
  if (!url.includes('%')) return url;
  return url.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export const observabilityPlugin = fp(
  async (app: FastifyInstance, opts: { metrics: GatewayMetrics }) => {
    const { metrics } = opts;
    // Redaction matches keys, and the request line's keys are the fixed ones written below
    // (none of them a redaction path; its values are strings and numbers), so pino's
    // redactor could never change it, yet cost more than building the line. This logger
    // drops only that; the secret scrubber (inherited) still masks tokens in the written
    // line's values, e.g. one pasted into the URL.
    const lineLog = app.log.child({}, { redact: { paths: [] } });
    // An aborted request may get onRequestAbort, onResponse, or both: count it down once.
    const open = new WeakSet<FastifyRequest>();
    const done = (req: FastifyRequest) => {
      if (open.delete(req)) metrics.inFlight.dec();
    };
    // Callback-style hooks: no promise and no microtask hop per request for work that never waits.
    app.addHook('onRequest', (req, _reply, next) => {
      open.add(req);
      metrics.inFlight.inc();
      next();
    });
    app.addHook('onResponse', (req, reply, next) => {
      done(req);
      // `routeOptions` builds a new object on every read: once per request.
      const route = req.is404 ? undefined : req.routeOptions.url;
      const elapsed = reply.elapsedTime;
      metrics.observeRequest(req.method, route, reply.statusCode, elapsed / 1000);
      // One literal with every key (pino leaves out an undefined session_id).
      const fields = {
        method: req.method,
        route: route ?? 'unmatched',
        url: loggableUrl(req.url),
        status: reply.statusCode,
        duration_ms: Math.round(elapsed * 100) / 100,
        client_ip: req.ip,
        session_id: sessionId(req, route),
      };
      if (req.log instanceof RequestLogger) req.log.line(lineLog, fields, 'request completed');
      else req.log.info(fields, 'request completed');
      next();
    });
    app.addHook('onRequestAbort', (req, next) => {
      done(req);
      next();
    });
  },
  { name: 'loki-observability' },
);
