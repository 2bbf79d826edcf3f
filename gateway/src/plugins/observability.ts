// One log line and one metrics observation per request, with route templates
// (never concrete ids) as labels. Log lines carry request_id (Fastify's child
// logger), subject (set by the guard) and session_id when the route has one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayMetrics } from '../metrics.js';
import { RequestLogger } from './request-logger.js';
import { requestLineWriter } from './request-line.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Counted in http_requests_in_flight and not yet counted down. */
    lokiInFlight?: boolean;
  }
}

const MSG = 'request completed';

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
    // The request line as fixed text (request-line.ts); undefined for a logger it cannot reproduce.
    const writeLine = requestLineWriter(lineLog, MSG);
    // An aborted request may get onRequestAbort, onResponse, or both: count it down once.
    const done = (req: FastifyRequest) => {
      if (req.lokiInFlight) {
        req.lokiInFlight = false;
        metrics.requestDone();
      }
    };
    // Callback-style hooks: no promise and no microtask hop per request for work that never waits.
    app.addHook('onRequest', (req, _reply, next) => {
      req.lokiInFlight = true;
      metrics.requestStarted();
      next();
    });
    app.addHook('onResponse', (req, reply, next) => {
      done(req);
      // `routeOptions` builds a new object on every read: once per request.
      const route = req.is404 ? undefined : req.routeOptions.url;
      const elapsed = reply.elapsedTime;
      const status = reply.statusCode;
      metrics.observeRequest(req.method, route, status, elapsed / 1000);
      const log = req.log;
      const durationMs = Math.round(elapsed * 100) / 100;
      if (writeLine && log instanceof RequestLogger && log.plain) {
        writeLine({
          requestId: log.requestId,
          subject: log.subject,
          method: req.method,
          route: route ?? 'unmatched',
          url: loggableUrl(req.url),
          status,
          durationMs,
          clientIp: req.ip,
          sessionId: sessionId(req, route),
        });
      } else {
        // One literal with every key (pino leaves out an undefined session_id).
        const fields = {
          method: req.method,
          route: route ?? 'unmatched',
          url: loggableUrl(req.url),
          status,
          duration_ms: durationMs,
          client_ip: req.ip,
          session_id: sessionId(req, route),
        };
        if (log instanceof RequestLogger) log.line(lineLog, fields, MSG);
        else log.info(fields, MSG);
      }
      next();
    });
    app.addHook('onRequestAbort', (req, next) => {
      done(req);
      next();
    });
  },
  { name: 'loki-observability' },
);
