// Browser login: authorization code + PKCE (S256) + state + nonce.
// login → IdP → callback (check state, exchange code, verify ID token + nonce)
// → encrypted HttpOnly session cookie → logout (clear, RP-initiated logout).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LokiError, toLokiError } from '../../../../common/src/errors.js';
import { escapeForDisplay } from '../../../../common/src/display.js';
import type { Logger } from '../../../../common/src/logger.js';
import { readCookie, serializeCookie } from './cookies.js';
import { identityFromClaims } from './roles.js';
import {
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  STATE_COOKIE,
  STATE_COOKIE_PATH,
  STATE_TTL_SECONDS,
  requireDiscovered,
  sessionKey,
  type Runtime,
  type SessionRevocations,
  type SessionClaims,
} from './runtime.js';
import { verifyJwt } from './verify.js';

export interface RouteContext {
  runtime(): Runtime | undefined;
  now(): number;
  log: Logger;
  secureCookies: boolean;
  routeConfig: Record<string, unknown>;
  tokenTimeoutMs: number;
  revocations: SessionRevocations;
}

const PARAM = { type: 'string', maxLength: 4096 } as const;
const MAX_SESSION_COOKIE = 4000;

function random(): string {
  return randomBytes(32).toString('base64url');
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Only same-origin absolute paths: `//evil.example` and `/\evil.example` are other origins to a browser. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length > 2048) return '/';
  if (value.startsWith('//') || value.startsWith('/\\') || /[\x00-\x1f\x7f\\]/.test(value)) return '/';
  const base = 'http://loki.invalid';
  const u = new URL(value, base);
  return u.origin === base ? `${u.pathname}${u.search}${u.hash}` : '/';
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const html = (text: string): string => escapeForDisplay(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);

/** A browser that navigated here (the user clicked "sign in", or the provider sent them back) reads a page, not JSON. */
function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/** The error as a page a person can act on: what happened, and the way back (no script, no style: the page CSP holds). */
function errorPage(e: LokiError, requestId: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Loki: sign-in did not complete</title></head>',
    '<body><main>',
    '<h1>Sign-in did not complete</h1>',
    `<p>${html(e.message)}</p>`,
    // Without OIDC configured there is nothing to start again.
    e.kind === 'not_found' ? '<p><a href="/">Back to Loki</a> (sign in with an API token)</p>' : '<p><a href="/auth/oidc/login">Start again</a> · <a href="/">Back to Loki</a></p>',
    `<p><small>${html(e.code)} · request id <code>${html(requestId)}</code></small></p>`,
    '</main></body></html>',
    '',
  ].join('\n');
}

function sendError(reply: FastifyReply, req: FastifyRequest, log: Logger, err: unknown): FastifyReply {
  const e = toLokiError(err);
  if (e.kind === 'internal') log.error({ err, request_id: req.id }, 'OIDC route failed');
  else log.info({ code: e.code, reason: e.message, request_id: req.id }, 'OIDC login refused');
  reply.code(e.httpStatus).header('cache-control', 'no-store');
  if (wantsHtml(req)) return reply.type('text/html; charset=utf-8').send(errorPage(e, req.id));
  return reply.send({ error: { code: e.code, message: e.message, request_id: req.id } });
}

function clearCookie(name: string, path: string, secure: boolean): string {
  return serializeCookie(name, '', { path, maxAgeSeconds: 0, secure });
}

/** Printable, bounded text from the IdP, so an error page cannot be used to inject content. */
function printable(value: unknown, max = 200): string {
  return typeof value === 'string' ? value.replace(/[^\x20-\x7e]/g, '').slice(0, max) : '';
}

async function exchangeCode(rt: Runtime, tokenEndpoint: string, code: string, verifier: string, timeoutMs: number): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: rt.redirectUri, code_verifier: verifier });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (rt.clientSecret) {
    // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
    const basic = `${encodeURIComponent(rt.cfg.client_id)}:${encodeURIComponent(rt.clientSecret)}`;
    headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
  } else {
    body.set('client_id', rt.cfg.client_id);
  }
  let res: Response;
  try {
    res = await fetch(tokenEndpoint, { method: 'POST', body, headers, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new LokiError('unavailable', 'the identity provider cannot be reached; try again later', { cause: err });
  }
  const json = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!res.ok) {
    const reason = printable(json?.error) || `HTTP ${res.status}`;
    throw new LokiError('unauthenticated', `the identity provider refused the authorization code (${reason}); start again at /auth/oidc/login`);
  }
  if (typeof json?.id_token !== 'string') throw new LokiError('unauthenticated', 'the identity provider returned no ID token');
  return json.id_token;
}

export function registerOidcRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const sessionCookie = ctx.secureCookies ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  const config = ctx.routeConfig;

  app.get(
    '/auth/oidc/login',
    {
      config,
      schema: { querystring: { type: 'object', properties: { returnTo: { type: 'string', maxLength: 2048 } } } },
    },
    async (req, reply) => {
      try {
        const rt = ctx.runtime();
        if (!rt) throw new LokiError('not_found', 'OIDC/SSO is not configured on this gateway');
        let discovered;
        try {
          discovered = requireDiscovered(rt).discovered;
        } catch (err) {
          throw new LokiError('unavailable', (err as Error).message);
        }
        const state = random();
        const nonce = random();
        const verifier = random();
        const returnTo = safeReturnTo((req.query as { returnTo?: unknown }).returnTo);
        const sealed = await rt.sealer.seal('state', { state, nonce, verifier, returnTo, fp: rt.fingerprint }, ctx.now(), STATE_TTL_SECONDS);
        const target = new URL(discovered.metadata.authorization_endpoint);
        const params: Record<string, string> = {
          response_type: 'code',
          client_id: rt.cfg.client_id,
          redirect_uri: rt.redirectUri,
          scope: rt.cfg.scopes.join(' '),
          state,
          nonce,
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
        };
        for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
        return reply
          .header('cache-control', 'no-store')
          .header('set-cookie', serializeCookie(STATE_COOKIE, sealed, { path: STATE_COOKIE_PATH, maxAgeSeconds: STATE_TTL_SECONDS, secure: ctx.secureCookies }))
          .redirect(target.href, 302);
      } catch (err) {
        return sendError(reply, req, ctx.log, err);
      }
    },
  );

  app.get(
    '/auth/oidc/callback',
    {
      config,
      // IdPs add their own parameters (session_state, authuser, scope…): allow them, bound the ones we read.
      schema: {
        querystring: {
          type: 'object',
          properties: { code: PARAM, state: PARAM, iss: PARAM, error: PARAM, error_description: PARAM },
          additionalProperties: true,
        },
      },
    },
    async (req, reply) => {
      // The state cookie is single-use: cleared on every outcome.
      reply.header('set-cookie', clearCookie(STATE_COOKIE, STATE_COOKIE_PATH, ctx.secureCookies));
      try {
        const rt = ctx.runtime();
        if (!rt) throw new LokiError('not_found', 'OIDC/SSO is not configured on this gateway');
        const q = req.query as Record<string, string | undefined>;
        const st = await rt.sealer.open('state', readCookie(req.headers.cookie, STATE_COOKIE), ctx.now());
        if (!st || typeof st.state !== 'string' || typeof st.nonce !== 'string' || typeof st.verifier !== 'string') {
          throw new LokiError('invalid_argument', 'login state is missing or expired; start again at /auth/oidc/login');
        }
        // The state ties this callback to the browser that started the login (login CSRF).
        if (typeof q.state !== 'string' || !sameString(q.state, st.state)) {
          throw new LokiError('invalid_argument', 'login state does not match; start again at /auth/oidc/login');
        }
        if (st.fp !== rt.fingerprint) throw new LokiError('invalid_argument', 'OIDC settings changed during login; start again at /auth/oidc/login');
        // RFC 9207: an `iss` from another provider is a mix-up attack.
        if (q.iss !== undefined && q.iss !== rt.cfg.issuer) throw new LokiError('invalid_argument', 'the authorization response came from a different issuer');
        if (q.error !== undefined) {
          throw new LokiError('unauthenticated', `the identity provider refused the login (${printable(q.error, 64)}${q.error_description ? `: ${printable(q.error_description)}` : ''})`);
        }
        if (!q.code) throw new LokiError('invalid_argument', 'the callback has no authorization code');
        let discovered;
        try {
          discovered = requireDiscovered(rt).discovered;
        } catch (err) {
          throw new LokiError('unavailable', (err as Error).message);
        }
        const idToken = await exchangeCode(rt, discovered.metadata.token_endpoint, q.code, st.verifier, ctx.tokenTimeoutMs);
        const now = ctx.now();
        const claims = await verifyJwt(idToken, discovered, {
          issuer: rt.cfg.issuer,
          audience: rt.cfg.client_id, // an ID token is always addressed to the client
          algorithms: rt.cfg.algorithms,
          clockToleranceSeconds: rt.cfg.clock_tolerance_seconds,
          nowMs: now,
        });
        if (typeof claims.nonce !== 'string' || !sameString(claims.nonce, st.nonce)) {
          throw new LokiError('unauthenticated', 'ID token nonce does not match this login; start again at /auth/oidc/login');
        }
        if (claims.azp !== undefined && claims.azp !== rt.cfg.client_id) throw new LokiError('unauthenticated', 'ID token was issued to another client');
        const identity = identityFromClaims(claims, rt.cfg);
        const nowSec = Math.floor(now / 1000);
        const ttl = Math.min(rt.cfg.session_max_age_seconds, (claims.exp ?? nowSec) - nowSec);
        if (ttl <= 0) throw new LokiError('unauthenticated', 'ID token has expired');
        const session: SessionClaims = { subj: identity.subject, scp: identity.scopes, fp: rt.fingerprint, idt: idToken };
        if (identity.role) session.role = identity.role;
        // Every browser session gets an id for audit correlation, even when the IdP sends no `sid`.
        session.sid = identity.credentialId ?? `ses-${randomBytes(12).toString('base64url')}`;
        // This sign-in's own id: what a logout revokes (a later sign-in in the same IdP session has the same sid).
        session.jti = randomBytes(16).toString('base64url');
        const sealed = await rt.sealer.seal('session', session, now, ttl);
        // Browsers drop cookies over ~4 KB; a session that silently vanished would look like a redirect loop.
        if (sealed.length > MAX_SESSION_COOKIE) {
          throw new LokiError('unauthenticated', 'the identity provider\'s ID token is too large for a browser session cookie; ask your IdP admin to trim its claims, or use an API token');
        }
        ctx.log.info({ subject: identity.subject, role: identity.role, request_id: req.id }, 'OIDC browser login');
        return reply
          .header('cache-control', 'no-store')
          .header('set-cookie', serializeCookie(sessionCookie, sealed, { path: '/', maxAgeSeconds: ttl, secure: ctx.secureCookies }))
          .redirect(typeof st.returnTo === 'string' ? safeReturnTo(st.returnTo) : '/', 302);
      } catch (err) {
        return sendError(reply, req, ctx.log, err);
      }
    },
  );

  app.get('/auth/logout', { config, schema: { querystring: { type: 'object', properties: {} } } }, async (req, reply) => {
    reply.header('cache-control', 'no-store').header('set-cookie', clearCookie(sessionCookie, '/', ctx.secureCookies));
    const rt = ctx.runtime();
    // End the session here, not only in this browser: a copy of the cookie stops working too.
    const now = ctx.now();
    const claims = rt ? await rt.sealer.open('session', readCookie(req.headers.cookie, sessionCookie), now) : undefined;
    const key = claims ? sessionKey(claims) : undefined;
    if (claims && key && typeof claims.exp === 'number') {
      ctx.revocations.revoke(key, claims.exp * 1000, now);
      ctx.log.info({ request_id: req.id, subject: claims.subj, session_id: claims.sid }, 'OIDC browser session ended');
    }
    const endSession = rt?.discovery.discovered?.metadata.end_session_endpoint;
    if (!rt || !endSession) return reply.redirect('/', 302);
    // RP-initiated logout ends the IdP session too; client_id identifies us without storing the ID token.
    const target = new URL(endSession);
    target.searchParams.set('client_id', rt.cfg.client_id);
    target.searchParams.set('post_logout_redirect_uri', rt.postLogoutRedirectUri);
    ctx.log.info({ request_id: req.id }, 'OIDC logout');
    return reply.redirect(target.href, 302);
  });
}
