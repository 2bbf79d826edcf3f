// POST /api/auth/stream-ticket: trades the caller's credential (header or
// cookie) for a single-use ticket to open ONE stream (SSE or WebSocket) at ONE
// path within 60 s. Browsers cannot put an Authorization header on
// EventSource/WebSocket, and a long-lived token must never be put in a URL.
import type { FastifyInstance } from 'fastify';
import { LokiError, hasScope } from '../../../common/src/index.js';
import type { RouteEntry } from '../plugins/guard.js';
import type { StreamTicketStore } from '../plugins/stream-tickets.js';
import type { RouteAccess } from './access.js';

export interface StreamTicketRouteOptions {
  tickets: StreamTicketStore;
  routes: readonly RouteEntry[];
}

const patternOf = (url: string) => new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, '[^/]+')}$`);

export async function streamTicketRoutes(app: FastifyInstance, opts: StreamTicketRouteOptions): Promise<void> {
  const access: RouteAccess = { scope: 'read' };
  let streams: { re: RegExp; entry: RouteEntry }[] | undefined;

  app.post<{ Body: { path: string } }>(
    '/api/auth/stream-ticket',
    {
      config: { access },
      schema: {
        summary: 'Get a single-use ticket (≤ 60 s) to open one SSE or WebSocket stream at one path',
        body: {
          type: 'object',
          required: ['path'],
          additionalProperties: false,
          properties: { path: { type: 'string', minLength: 2, maxLength: 512, pattern: '^/[A-Za-z0-9/_.~-]+$', description: 'the exact path of the stream, without query' } },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              ticket: { type: 'string' },
              path: { type: 'string' },
              expires_at: { type: 'string' },
              expires_in_seconds: { type: 'integer' },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const identity = req.identity;
      if (!identity) throw new LokiError('unauthenticated', 'authentication required');
      // Matched lazily: every route group has registered by the first request.
      streams ??= opts.routes.filter((r) => r.access.stream && r.method === 'GET').map((entry) => ({ re: patternOf(entry.url), entry }));
      const { path } = req.body;
      const target = streams.find((s) => s.re.test(path));
      if (!target) throw new LokiError('invalid_argument', `body/path ${JSON.stringify(path.slice(0, 100))} is not an SSE or WebSocket route`);
      const scope = target.entry.access.scope;
      if (scope !== 'public' && !hasScope(identity.scopes, scope)) {
        throw new LokiError('permission_denied', `${target.entry.url} needs the "${scope}" scope; your credential has: ${identity.scopes.join(', ') || 'none'}`);
      }
      const t = opts.tickets.issue(identity, path);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ticket: t.ticket, path: t.path, expires_at: new Date(t.expiresAt).toISOString(), expires_in_seconds: Math.round((t.expiresAt - Date.now()) / 1000) });
    },
  );
}
