// Response hardening on every reply (including errors and 404s): request id,
// nosniff, frame denial, referrer policy, CSP, no-store unless the route says
// otherwise, HSTS under TLS, no server banner; CORS only for configured
// origins; CSRF origin check for cookie sessions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export interface SecuritySettings {
  /** HSTS is sent when the gateway serves TLS itself or sits behind a TLS proxy. */
  hstsMaxAgeS: number | undefined;
  corsOrigins: readonly string[];
  corsCredentials: boolean;
}

// API responses are never rendered: deny everything. Dashboard HTML gets a
// strict policy with scripts only from our own origin (no inline script).
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
// No exceptions: no inline script or style, no eval, no data: URLs, no other origin.
const HTML_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; manifest-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

function allowedOrigin(settings: SecuritySettings, origin: string | undefined): string | undefined {
  if (!origin || settings.corsOrigins.length === 0) return undefined;
  if (settings.corsOrigins.includes(origin)) return origin;
  // `*` is refused with credentials at config validation, so reflecting it here never grants cookies.
  if (settings.corsOrigins.includes('*')) return '*';
  return undefined;
}

/** A cookie-authenticated state change must come from our own origin (or a configured CORS origin). */
export function sameOrigin(req: FastifyRequest, settings: SecuritySettings): boolean {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    if (origin === `${req.protocol}://${req.host}`) return true;
    return settings.corsCredentials && settings.corsOrigins.includes(origin);
  }
  // Browsers that omit Origin still send Fetch Metadata on modern versions.
  return req.headers['sec-fetch-site'] === 'same-origin';
}

export const securityPlugin = fp(
  async (app: FastifyInstance, opts: { settings: () => SecuritySettings }) => {
    // Callback-style hooks: no promise and no microtask hop per request for work that never waits.
    app.addHook('onRequest', (req, reply, done) => {
      reply.header('x-request-id', req.id);
      const s = opts.settings();
      const origin = allowedOrigin(s, req.headers.origin);
      if (!origin) return done();
      reply.header('access-control-allow-origin', origin);
      reply.header('vary', 'Origin');
      if (s.corsCredentials) reply.header('access-control-allow-credentials', 'true');
      // A preflight carries no credentials by design; answer it before authentication.
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
        reply.header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE');
        reply.header('access-control-allow-headers', 'authorization, content-type, x-request-id');
        reply.header('access-control-max-age', '600');
        // Answered here: the hook chain stops (Fastify does not call the next hook after a sent reply).
        reply.code(204).send();
        return;
      }
      done();
    });

    app.addHook('onSend', (_req, reply, payload, done) => {
      const s = opts.settings();
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'strict-origin-when-cross-origin');
      reply.header('cross-origin-opener-policy', 'same-origin');
      const type = String(reply.getHeader('content-type') ?? '');
      reply.header('content-security-policy', type.startsWith('text/html') ? HTML_CSP : API_CSP);
      // Answers carry sessions, audit entries, token secrets: no browser disk cache, no shared
      // cache keeps them. Routes that are meant to be cached (the dashboard's hashed assets)
      // or revalidated (its HTML, event streams) say so themselves.
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      if (s.hstsMaxAgeS !== undefined) reply.header('strict-transport-security', `max-age=${s.hstsMaxAgeS}; includeSubDomains`);
      reply.removeHeader('server');
      reply.removeHeader('x-powered-by');
      done(null, payload);
    });
  },
  { name: 'loki-security' },
);
