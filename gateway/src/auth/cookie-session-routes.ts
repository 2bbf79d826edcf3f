// The dashboard's login by token: POST /auth/session {token} → cookie session;
// GET /auth/session → who am I (+ the CSRF token the page must echo);
// POST /auth/session/logout → the cookie session is revoked server-side;
// GET /auth/methods → which sign-in methods this gateway offers (public: the
// login page asks before it offers single sign-on).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LokiError } from '../../../common/src/index.js';
import type { Identity } from './identity.js';
import { WEB_SESSION_MAX_AGE_S, webSessionCookie, type WebSessionStore } from './cookie-session.js';
import { sameOrigin, type SecuritySettings } from '../plugins/security.js';
import { callIdentity } from '../plugins/guard.js';
import type { OidcStatus } from './oidc/types.js';

export interface CookieSessionRouteOptions {
  store: WebSessionStore;
  secureCookies: () => boolean;
  security: () => SecuritySettings;
  /** The OIDC module's state now (it can change on SIGHUP or while the provider is unreachable). */
  oidcStatus: () => OidcStatus;
}

const meSchema = {
  type: 'object',
  properties: {
    subject: { type: 'string' },
    role: { type: ['string', 'null'] },
    scopes: { type: 'array', items: { type: 'string' } },
    method: { type: 'string' },
    csrf_token: { type: ['string', 'null'] },
    expires_at: { type: ['string', 'null'] },
  },
} as const;

function me(identity: Identity, csrf: string | undefined, expiresAtMs: number | undefined) {
  return {
    subject: identity.subject,
    role: identity.role ?? null,
    scopes: identity.scopes,
    method: identity.viaCookie && identity.method === 'token' ? 'cookie' : identity.method,
    csrf_token: csrf ?? null,
    expires_at: expiresAtMs ? new Date(expiresAtMs).toISOString() : null,
  };
}

export async function cookieSessionRoutes(app: FastifyInstance, opts: CookieSessionRouteOptions): Promise<void> {
  const { store } = opts;
  const cookieName = () => store.cookieName(opts.secureCookies());
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  app.post<{ Body: { token: string } }>(
    '/auth/session',
    {
      config: { access: { scope: 'public' } },
      schema: {
        summary: 'Browser sign-in with a pasted API token: sets an HttpOnly session cookie (the token itself never reaches the page again)',
        body: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string', minLength: 1, maxLength: 512 } } },
        response: { 201: meSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { token: string } }>, reply) => {
      noStore(reply);
      // Login CSRF: another site must not be able to sign this browser in as someone else.
      if (!sameOrigin(req, opts.security())) throw new LokiError('permission_denied', 'cross-site login refused: sign in from the dashboard page itself');
      const now = Date.now();
      const limiter = app.loki.limiter;
      if (limiter.isLockedOut(req.ip, now)) {
        reply.header('retry-after', String(limiter.lockoutSeconds(req.ip, now)));
        throw limiter.lockedOutError(req.ip, now);
      }
      const token = req.body.token.trim();
      const outcome = await app.loki.authenticator.verifyToken(token, req.id, req.ip);
      if (outcome.kind !== 'ok') {
        const reason = outcome.kind === 'failed' ? outcome.reason : 'missing';
        app.loki.metrics.authFailures.inc({ reason });
        await limiter.recordAuthFailure(req.ip, now);
        await app.loki.audit.forward({ action: 'auth.fail', resource: 'route:POST /auth/session', result: 'denied', reason, identity: { requestId: req.id, clientIp: req.ip } });
        throw new LokiError('unauthenticated', outcome.kind === 'failed' ? outcome.message : 'a token is required');
      }
      const { id, session } = store.create(token, outcome.identity.subject, outcome.expiresAtMs ?? 0);
      req.identity = outcome.identity;
      await app.loki.audit.forward({ action: 'auth.web_login', resource: 'web-session', result: 'success', identity: callIdentity(req) });
      const maxAge = Math.floor((session.expiresAtMs - now) / 1000);
      reply.header('set-cookie', webSessionCookie(cookieName(), id, Math.min(maxAge, WEB_SESSION_MAX_AGE_S), opts.secureCookies()));
      return reply.code(201).send(me({ ...outcome.identity, viaCookie: true }, session.csrf, session.expiresAtMs));
    },
  );

  app.get(
    '/auth/methods',
    {
      config: { access: { scope: 'public' } },
      schema: {
        summary: 'Which sign-in methods this gateway offers: API token always; OIDC single sign-on when configured (`ready`), configured but its provider unreachable (`unavailable`), or not configured (`disabled`)',
        querystring: { type: 'object', properties: {} },
        response: { 200: { type: 'object', required: ['token', 'oidc'], properties: { token: { type: 'boolean' }, oidc: { type: 'string', enum: ['disabled', 'ready', 'unavailable'] } } } },
      },
    },
    async (_req, reply) => {
      noStore(reply);
      return { token: true, oidc: opts.oidcStatus() };
    },
  );

  app.get('/auth/session', { config: { access: { scope: 'read' } }, schema: { summary: 'Who the browser session is (subject, scopes, CSRF token)', querystring: { type: 'object', properties: {} }, response: { 200: meSchema } } }, async (req, reply) => {
    noStore(reply);
    const id = req.identity!;
    const session = id.webSessionId ? store.get(id.webSessionId) : undefined;
    return me(id, session?.csrf, session?.expiresAtMs);
  });

  app.post('/auth/session/logout', { config: { access: { scope: 'read' } }, schema: { summary: 'End the browser session (the cookie stops working at once)', querystring: { type: 'object', properties: {} } } }, async (req, reply) => {
    noStore(reply);
    const id = req.identity!;
    if (id.webSessionId) {
      store.revoke(id.webSessionId);
      await app.loki.audit.forward({ action: 'auth.web_logout', resource: 'web-session', result: 'success', identity: callIdentity(req) });
    }
    reply.header('set-cookie', webSessionCookie(cookieName(), '', 0, opts.secureCookies()));
    return { logged_out: true };
  });
}
