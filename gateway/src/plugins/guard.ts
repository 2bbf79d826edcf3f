// The one default-deny gate in front of every route:
//   capacity → lockout (a locked-out address is checked without the daemon) → authenticate → rate limit → authorize (declared scope) → CSRF
//   → concurrency slot (or, for a `stream` route, one of the subject's stream places).
// On a `stream` route a single-use `?ticket=` may stand in for the credential;
// a long-lived credential in a URL is always refused.
// Routes declare `config.access` next to their schema; a route without it (or a
// `public` route outside the allow-list, or a route without a schema) makes startup fail.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LokiError, hasScope, type Logger } from '../../../common/src/index.js';
import type { AuditForwarder } from '../audit-forwarder.js';
import type { Authenticator, AuthFailureReason, AuthOutcome } from '../auth/authenticator.js';
import { sameSecret } from '../auth/cookie-session.js';
import type { Identity } from '../auth/identity.js';
import type { CallIdentity } from '../../../client/src/grpc/index.js';
import type { RequestLimiter, RateDecision, Slot } from '../limits/limiter.js';
import type { GatewayMetrics } from '../metrics.js';
import { mayBePublic, type RouteAccess } from '../routes/access.js';
import { isSafeMethod, sameOrigin, type SecuritySettings } from './security.js';
import { watchStreamCredential } from './stream-credentials.js';
import type { StreamTicketStore } from './stream-tickets.js';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
    lokiReleases?: Releases;
  }
}

/**
 * What a request holds (in-flight place, concurrency slot, stream place), given back exactly once
 * however the request ends. A place taken after the request already ended (the client left while
 * the guard awaited a queued slot) is given back at once: it must never land where no hook looks.
 * The two places almost every request holds (in flight, one concurrency slot) are fields, not
 * closures in an array: this object is the only allocation they cost per request.
 */
export class Releases {
  private inFlight: RequestLimiter | undefined;
  private slotOwner: RequestLimiter | undefined;
  private slotSubject = '';
  private slot: Slot | undefined;
  private fns: (() => void)[] | undefined;
  private released = false;

  /** Enters `limiter`'s in-flight count (throws when the gateway is at capacity); left on release. */
  enter(limiter: RequestLimiter, exempt: boolean): void {
    limiter.enterNow(exempt);
    if (this.released || this.inFlight) this.add(() => limiter.leave());
    else this.inFlight = limiter;
  }

  /** Takes a concurrency slot if one is free now (see RequestLimiter.takeSlot); false when the caller must queue. */
  takeSlot(limiter: RequestLimiter, subject: string, exempt: boolean): boolean {
    const slot = limiter.takeSlot(subject, exempt);
    if (!slot) return false;
    if (this.released || this.slot) this.add(() => limiter.giveSlot(subject, slot));
    else {
      this.slotOwner = limiter;
      this.slot = slot;
      this.slotSubject = subject;
    }
    return true;
  }

  add(fn: () => void): void {
    if (this.released) fn();
    else (this.fns ??= []).push(fn);
  }

  releaseAll(): void {
    if (this.released) return;
    this.released = true;
    const { inFlight, slotOwner, slot, fns } = this;
    this.inFlight = this.slotOwner = this.slot = this.fns = undefined;
    inFlight?.leave();
    if (slot) slotOwner!.giveSlot(this.slotSubject, slot);
    if (fns) for (const fn of fns) fn();
  }
}

/** A route that needs a credential (past the public/unmatched branch). */
type GuardedAccess = RouteAccess & { scope: Exclude<RouteAccess['scope'], 'public'> };

function guarded(access: RouteAccess): access is GuardedAccess {
  return access.scope !== 'public';
}

export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess;
}

export interface GuardOptions {
  authenticator: Authenticator;
  limiter: RequestLimiter;
  metrics: GatewayMetrics;
  audit: AuditForwarder;
  security: () => SecuritySettings;
  /** Filled with every route as it is registered (the route census walks it). */
  routes: RouteEntry[];
  log: Logger;
  /** Single-use tickets that stand in for a credential on stream routes (`?ticket=`). */
  tickets: StreamTicketStore;
}

// Query parameters that would carry a long-lived credential. They are refused
// outright, so a token pasted into a URL fails loudly instead of leaking quietly.
const URL_CREDENTIALS = ['access_token', 'token', 'api_key', 'apikey'];

/** What a locked-out Prometheus can do: the lockout itself stays (docs/metrics.md "Lockout and scrapes"). */
const METRICS_LOCKOUT_HINT =
  '. A /metrics scrape from this address is refused too: scrape from another address, or serve /metrics on the private metrics listener (metrics.listen), which has no authentication and so no lockout';

/** Every `?ticket=` value of the URL (one or repeated), or none. */
function ticketsIn(req: FastifyRequest): unknown[] {
  const q = req.query as Record<string, unknown> | undefined;
  if (!q || typeof q !== 'object' || !Object.hasOwn(q, 'ticket')) return [];
  return Array.isArray(q.ticket) ? q.ticket : [q.ticket];
}

/**
 * Takes `?ticket=` out of the query (so route schemas never see it); undefined when absent.
 * A URL that also carries a long-lived credential is refused, and its tickets are spent.
 */
function takeTicket(req: FastifyRequest, tickets: StreamTicketStore): string | string[] | undefined {
  const q = req.query as Record<string, unknown> | undefined;
  if (!q || typeof q !== 'object') return undefined;
  for (const k of URL_CREDENTIALS) {
    if (Object.hasOwn(q, k)) {
      for (const t of ticketsIn(req)) tickets.discard(t);
      throw new LokiError('unauthenticated', 'credentials are never accepted in a URL: send "Authorization: Bearer <token>" (a browser stream: POST /api/auth/stream-ticket, then ?ticket=)');
    }
  }
  if (!Object.hasOwn(q, 'ticket')) return undefined;
  const t = q.ticket as string | string[];
  delete q.ticket;
  return t;
}

/** The identity the daemon should see for this request (forwarded as gateway-socket metadata). */
export function callIdentity(req: FastifyRequest): CallIdentity {
  const id = req.identity;
  if (!id) return { requestId: req.id, clientIp: req.ip };
  const auth = id.method === 'none' ? 'none' : id.subject;
  // Whole literals, not conditional spreads: this runs for every daemon call.
  if (!id.credential) return { requestId: req.id, clientIp: req.ip, subject: id.subject, scopes: id.scopes, auth };
  return { requestId: req.id, clientIp: req.ip, subject: id.subject, scopes: id.scopes, auth, credential: id.credential };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}

function setRateHeaders(reply: FastifyReply, d: RateDecision): void {
  reply.header('ratelimit-limit', String(d.limit));
  reply.header('ratelimit-remaining', String(d.remaining));
  reply.header('ratelimit-reset', String(d.resetSeconds));
}

export const guardPlugin = fp(
  async (app: FastifyInstance, opts: GuardOptions) => {
    const { authenticator, limiter, metrics, audit } = opts;

    app.addHook('onRoute', (route) => {
      const where = `${String(route.method)} ${route.url}`;
      const access = route.config?.access;
      if (!access) throw new Error(`route ${where} declares no access (config.access.scope); every route must (default deny)`);
      if (access.scope === 'public' && !mayBePublic(route.url)) {
        throw new Error(`route ${where} is declared public, but only health and OIDC login routes may be`);
      }
      if (!route.schema) throw new Error(`route ${where} declares no JSON schema`);
      for (const m of Array.isArray(route.method) ? route.method : [route.method]) {
        opts.routes.push({ method: m, url: route.url, access });
      }
    });

    // Callback-style, and synchronous as far as it can be: with a cached token, counters in
    // memory and a free slot (the common case) a request passes without a promise or a
    // microtask. A step that must wait (the daemon, a shared store, the slot queue, an audit
    // write) continues from that step as a promise; every check still runs, in the same order.
    app.addHook('onRequest', (req, reply, done) => {
      let pending: Promise<void> | undefined;
      try {
        pending = check(req, reply);
      } catch (err) {
        done(err as FastifyError);
        return;
      }
      if (pending) pending.then(() => done(), done);
      else done();
    });

    function check(req: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
      const access = req.routeOptions.config?.access;
      const exempt = access?.rateLimit === 'exempt';
      const releases = new Releases();
      req.lokiReleases = releases;
      releases.enter(limiter, exempt);
      const now = Date.now();

      // A ticket is spent by any use that is refused, here on a path that never takes one:
      // whoever saw it in a URL cannot try it again where it would work.
      if (!access || !guarded(access)) for (const t of ticketsIn(req)) opts.tickets.discard(t);
      // An unknown path with a credential: a valid one is counted to its subject and
      // gets its 404 (not the anonymous per-IP budget); anything else falls through.
      if (!access && req.headers.authorization !== undefined) return unmatchedWithCredential(req, reply, now);
      // Unmatched paths and public routes: per-IP limit only (slows scanners).
      if (!access || !guarded(access)) return exempt ? undefined : ipLimit(req, reply, now);

      // Lockout first: a locked-out address gets no daemon round trip. Only a credential the
      // gateway can vouch for alone (a cached token, OIDC) still passes, so a valid user
      // behind the same address keeps working while an attacker's guesses cost nothing.
      const lockedOut = limiter.isLockedOut(req.ip, now);
      const ticket = takeTicket(req, opts.tickets);
      const outcome = ticket === undefined ? authenticator.authenticateNow(req, { daemon: !lockedOut }) : redeem(req, access, ticket);
      if (outcome) return admit(req, reply, access, exempt, lockedOut, outcome, now);
      return authenticator.authenticate(req, req.id, { daemon: !lockedOut }).then((o) => admit(req, reply, access, exempt, lockedOut, o, now));
    }

    function admit(req: FastifyRequest, reply: FastifyReply, access: GuardedAccess, exempt: boolean, lockedOut: boolean, outcome: AuthOutcome, now: number): Promise<void> | undefined {
      if (outcome.kind !== 'ok') return refuseAuth(req, reply, lockedOut, outcome, now);
      const identity = outcome.identity;
      req.identity = identity;
      bindSubject(req, identity.subject);
      if (exempt) return authorize(req, access, identity, exempt);
      const d = limiter.checkRateNow('subject', identity.subject, now);
      if (d) return rated(req, reply, access, identity, d);
      return limiter.checkRate('subject', identity.subject, now).then((x) => rated(req, reply, access, identity, x));
    }

    function rated(req: FastifyRequest, reply: FastifyReply, access: GuardedAccess, identity: Identity, d: RateDecision): Promise<void> | undefined {
      setRateHeaders(reply, d);
      if (!d.allowed) return refuseRate(req, reply, d, `route:${req.method} ${req.routeOptions.url ?? ''}`);
      return authorize(req, access, identity, false);
    }

    function authorize(req: FastifyRequest, access: GuardedAccess, identity: Identity, exempt: boolean): Promise<void> | undefined {
      if (!hasScope(identity.scopes, access.scope)) return refuseScope(req, access, identity);

      // A WebSocket upgrade is a GET, but browsers attach cookies to cross-site upgrades
      // (no CORS preflight): without this, any page could open a shell as the signed-in user.
      if (identity.viaCookie && (!isSafeMethod(req.method) || req.headers.upgrade !== undefined) && !sameOrigin(req, opts.security())) {
        throw new LokiError('permission_denied', 'cross-site request refused: a cookie-authenticated change or WebSocket must come from the same origin');
      }
      // Browser sessions from a pasted token also need the session's CSRF token (double-submit in a header a
      // cross-site form cannot set); the Origin check above alone would trust an old browser that omits Origin.
      if (identity.csrfToken !== undefined && !isSafeMethod(req.method) && !sameSecret(headerValue(req.headers['x-csrf-token']), identity.csrfToken)) {
        throw new LokiError('permission_denied', 'missing or wrong CSRF token (x-csrf-token): reload the dashboard and try again');
      }

      // A stream holds its place for its whole life; a concurrency slot would let a
      // few open dashboards lock the same user out of every other request.
      const releases = req.lokiReleases!;
      if (access.stream) {
        let place: () => void;
        try {
          place = limiter.openStream(identity.subject, exempt);
        } catch (err) {
          metrics.rateLimitRejections.inc({ scope: 'streams' });
          throw err;
        }
        releases.add(place);
        // Admitted once, open for hours: a credential revoked or expired meanwhile ends it.
        watchStreamCredential(req, identity, authenticator);
        return undefined;
      }
      if (releases.takeSlot(limiter, identity.subject, exempt)) return undefined;
      // No free slot: wait in the subject's queue (`queue_ms`). A place granted after the
      // request ended is given back at once by `releases`.
      return limiter.acquire(identity.subject, exempt).then(
        (release) => releases.add(release),
        (err: unknown) => {
          metrics.rateLimitRejections.inc({ scope: 'concurrency' });
          throw err;
        },
      );
    }

    async function refuseAuth(req: FastifyRequest, reply: FastifyReply, lockedOut: boolean, outcome: Exclude<AuthOutcome, { kind: 'ok' }>, now: number): Promise<void> {
      if (lockedOut && outcome.kind === 'failed') {
        // Audited as counted entries (one per address, route and window): the trail
        // shows the whole attempt without a locked-out client flooding it.
        metrics.authFailures.inc({ reason: 'locked_out' });
        metrics.rateLimitRejections.inc({ scope: 'lockout' });
        await audit.forward({
          action: 'auth.fail',
          resource: `route:${req.method} ${req.routeOptions.url ?? ''}`,
          result: 'denied',
          reason: 'locked_out',
          identity: { requestId: req.id, clientIp: req.ip },
        });
        reply.header('retry-after', String(limiter.lockoutSeconds(req.ip, now)));
        // A Prometheus scrape meets this too: say what the operator can do about it (docs/metrics.md).
        throw limiter.lockedOutError(req.ip, now, req.routeOptions.url === '/metrics' ? METRICS_LOCKOUT_HINT : '');
      }
      await ipLimit(req, reply, now);
      if (outcome.kind === 'none') {
        await fail('missing', req);
        throw new LokiError('unauthenticated', 'authentication required: send "Authorization: Bearer <token>"');
      }
      await fail(outcome.reason, req);
      if (await limiter.recordAuthFailure(req.ip, now)) {
        req.log.warn({ client_ip: req.ip }, 'address locked out after repeated authentication failures');
        await audit.forward({
          action: 'auth.fail',
          resource: `ip:${req.ip}`,
          result: 'denied',
          reason: 'locked_out',
          details: { lockout_s: limiter.current().lockout_duration_s },
          identity: { requestId: req.id, clientIp: req.ip },
        });
      }
      throw new LokiError('unauthenticated', outcome.message);
    }

    async function refuseRate(req: FastifyRequest, reply: FastifyReply, d: RateDecision, resource: string): Promise<void> {
      metrics.rateLimitRejections.inc({ scope: 'subject' });
      await audit.forward({
        action: 'rate_limit.reject',
        resource,
        result: 'denied',
        reason: `subject over ${d.limit}/min`,
        identity: callIdentity(req),
      });
      reply.header('retry-after', String(d.resetSeconds));
      throw new LokiError('resource_exhausted', `rate limit exceeded (${d.limit} requests per minute); retry in ${d.resetSeconds}s`);
    }

    async function refuseScope(req: FastifyRequest, access: GuardedAccess, identity: Identity): Promise<void> {
      await audit.forward({
        action: 'access.denied',
        resource: `route:${req.method} ${req.routeOptions.url ?? ''}`,
        result: 'denied',
        reason: `missing scope ${access.scope}`,
        identity: callIdentity(req),
      });
      throw new LokiError('permission_denied', `this route needs the "${access.scope}" scope; your credential has: ${identity.scopes.join(', ') || 'none'}`);
    }

    /** The request's own logger gets the subject in place (Fastify made it for this request alone; a second child per request was a measurable share of the hot path). */
    function bindSubject(req: FastifyRequest, subject: string): void {
      const reqLog = req.log as typeof req.log & { setBindings?: (b: Record<string, unknown>) => void };
      if (reqLog.setBindings) reqLog.setBindings({ subject });
      else req.log = req.log.child({ subject });
    }

    async function unmatchedWithCredential(req: FastifyRequest, reply: FastifyReply, now: number): Promise<void> {
      if (!(await knownCaller(req, reply, now))) await ipLimit(req, reply, now);
    }

    function redeem(req: FastifyRequest, access: RouteAccess, ticket: string | string[]): AuthOutcome {
      // Refused uses spend the ticket too (every copy, when repeated).
      const spend = () => {
        for (const t of typeof ticket === 'string' ? [ticket] : ticket) opts.tickets.discard(t);
      };
      if (!access.stream) {
        spend();
        return { kind: 'failed', reason: 'malformed', message: 'a stream ticket is accepted only on SSE and WebSocket routes' };
      }
      if (req.headers.authorization !== undefined) {
        spend();
        throw new LokiError('invalid_argument', 'send either an Authorization header or ?ticket=, not both');
      }
      if (typeof ticket !== 'string') {
        spend();
        return { kind: 'failed', reason: 'malformed', message: 'send exactly one ticket' };
      }
      const r = opts.tickets.redeem(ticket, req.url.split('?')[0] ?? '');
      return r.ok ? { kind: 'ok', identity: r.identity } : { kind: 'failed', reason: 'unknown', message: r.message };
    }

    /** For unmatched paths: true when the credential is valid and within its subject's rate limit. */
    async function knownCaller(req: FastifyRequest, reply: FastifyReply, now: number): Promise<boolean> {
      const outcome = await authenticator.authenticate(req, req.id, { daemon: !limiter.isLockedOut(req.ip, now) });
      if (outcome.kind !== 'ok') return false;
      req.identity = outcome.identity;
      bindSubject(req, outcome.identity.subject);
      const d = await limiter.checkRate('subject', outcome.identity.subject, now);
      setRateHeaders(reply, d);
      if (!d.allowed) await refuseRate(req, reply, d, `route:${req.method} (unmatched)`);
      return true;
    }

    // Callback-style: releasing never waits, so no promise per request.
    app.addHook('onResponse', (req, _reply, next) => {
      req.lokiReleases?.releaseAll();
      next();
    });
    app.addHook('onRequestAbort', (req, next) => {
      req.lokiReleases?.releaseAll();
      next();
    });

    function ipLimit(req: FastifyRequest, reply: FastifyReply, now: number): Promise<void> | undefined {
      const d = limiter.checkRateNow('ip', req.ip, now);
      if (d) return ipDecided(req, reply, d);
      return limiter.checkRate('ip', req.ip, now).then((x) => ipDecided(req, reply, x));
    }

    function ipDecided(req: FastifyRequest, reply: FastifyReply, d: RateDecision): Promise<void> | undefined {
      setRateHeaders(reply, d);
      if (d.allowed) return undefined;
      return refuseIp(req, reply, d);
    }

    async function refuseIp(req: FastifyRequest, reply: FastifyReply, d: RateDecision): Promise<void> {
      metrics.rateLimitRejections.inc({ scope: 'ip' });
      await audit.forward({
        action: 'rate_limit.reject',
        resource: `route:${req.method} ${req.routeOptions.url ?? ''}`,
        result: 'denied',
        reason: `unauthenticated address over ${d.limit}/min`,
        identity: { requestId: req.id, clientIp: req.ip },
      });
      reply.header('retry-after', String(d.resetSeconds));
      throw new LokiError('resource_exhausted', `rate limit exceeded for unauthenticated requests; retry in ${d.resetSeconds}s`);
    }

    async function fail(reason: AuthFailureReason, req: FastifyRequest): Promise<void> {
      metrics.authFailures.inc({ reason });
      // Missing credentials are routine (a browser, a probe); only real attempts are audited.
      if (reason === 'missing') return;
      await audit.forward({
        action: 'auth.fail',
        resource: `route:${req.method} ${req.routeOptions.url ?? ''}`,
        result: 'denied',
        reason,
        identity: { requestId: req.id, clientIp: req.ip },
      });
    }
  },
  { name: 'loki-guard' },
);
