// One log line and one metrics observation per request, with route templates
// (never concrete ids) as labels. Log lines carry request_id (Fastify's child
// logger), subject (set by the guard) and session_id when the route has one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { REDACT_PATHS } from '../../../common/src/index.js';
import type { GatewayMetrics } from '../metrics.js';
import { RequestLogger } from './request-logger.js';

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
  if (!url.includes('%')) return url;
  return url.replace(/%([0-7][0-9A-Fa-f])/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export const observabilityPlugin = fp(
  async (app: FastifyInstance, opts: { metrics: GatewayMetrics }) => {
    const { metrics } = opts;
    // The request line's values are all strings and numbers, so the `*.`-first redaction
    // paths (a key inside a nested object) can never match it; pino still ran that
    // wildcard redactor over every field of every line. This logger keeps the exact-key
    // paths (and, inherited, the secret scrubber on the written line) and drops only those.
    const lineLog = app.log.child({}, { redact: { paths: REDACT_PATHS.filter((p) => !p.startsWith('*')), censor: '[REDACTED]' } });
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
      const route = req.is404 ? undefined : req.routeOptions.url;
      const seconds = reply.elapsedTime / 1000;
      metrics.observeRequest(req.method, route, reply.statusCode, seconds);
      const sid = sessionId(req);
      const fields = {
        method: req.method,
        route: route ?? 'unmatched',
        url: loggableUrl(req.url),
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 100) / 100,
        client_ip: req.ip,
        ...(sid ? { session_id: sid } : {}),
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
