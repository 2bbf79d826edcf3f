// OidcAuthenticator: bearer JWT verification, browser sessions, reload.
// With no issuer configured it is "disabled": it rejects JWTs, ignores cookies,
// and its routes answer 404, so a later reload can switch OIDC on in place.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LokiError } from '../../../../common/src/errors.js';
import type { Logger } from '../../../../common/src/logger.js';
import type { Identity } from '../identity.js';
import { parseOidcConfig, resolveClientSecret, type OidcConfig } from './config.js';
import { CookieSealer, readCookie } from './cookies.js';
import { IssuerDiscovery } from './discovery.js';
import { identityFromClaims } from './roles.js';
import { registerOidcRoutes } from './routes.js';
import {
  SECURE_SESSION_COOKIE,
  SESSION_COOKIE,
  identityFromSession,
  requireDiscovered,
  sessionKey,
  settingsFingerprint,
  SessionRevocations,
  type Runtime,
} from './runtime.js';
import type { OidcAuthenticator, OidcStatus } from './types.js';
import { looksLikeJwt, verifyJwt } from './verify.js';

export interface OidcDeps {
  log: Logger;
  /** Clock in epoch ms (token exp/nbf, cookie expiry). */
  now?: () => number;
  /** True when the gateway serves TLS (or sits behind a TLS proxy): cookies get Secure and the `__Host-` prefix. */
  secureCookies: boolean;
  /** e.g. https://loki.example.com — default redirect and post-logout URIs are built from it. */
  publicBaseUrl: string;
  /** Merged into the `config` of each OIDC route, e.g. how the gateway's auth plugin marks public routes. */
  routeConfig?: Record<string, unknown>;
  /** First discovery retry delay; doubles up to oidc.discovery_retry_max_seconds. Default 1000. */
  retryInitialMs?: number;
  /** Timeout for discovery, JWKS and token endpoint requests. Default 5000. */
  requestTimeoutMs?: number;
}

/** The seam, plus a way to wait for the current discovery's first attempt (startup logs, tests). */
export interface OidcAuthenticatorHandle extends OidcAuthenticator {
  settled(): Promise<OidcStatus>;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

export function createOidcAuthenticator(config: unknown, deps: OidcDeps): OidcAuthenticatorHandle {
  const log = deps.log.child({ component: 'oidc' });
  const now = deps.now ?? Date.now;
  const retryInitialMs = deps.retryInitialMs ?? 1000;
  const requestTimeoutMs = deps.requestTimeoutMs ?? 5000;
  // Without a configured secret, sessions are bound to this process: a restart logs everyone out, which is the safe failure.
  const processSealer = new CookieSealer(undefined);
  const sessionCookie = deps.secureCookies ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  let closed = false;

  function discoveryKey(cfg: OidcConfig): string {
    return JSON.stringify([cfg.issuer, cfg.jwks_cooldown_seconds, cfg.jwks_cache_max_age_seconds, cfg.discovery_retry_max_seconds]);
  }

  function build(cfg: OidcConfig, prev: Runtime | undefined): Runtime | undefined {
    if (!cfg.issuer || !cfg.client_id) return undefined;
    const clientSecret = resolveClientSecret(cfg);
    const reuse = prev && discoveryKey(prev.cfg) === discoveryKey(cfg);
    const discovery = reuse
      ? prev.discovery
      : new IssuerDiscovery({
          issuer: cfg.issuer,
          log,
          jwksCooldownMs: cfg.jwks_cooldown_seconds * 1000,
          jwksCacheMaxAgeMs: cfg.jwks_cache_max_age_seconds * 1000,
          retryInitialMs,
          retryMaxMs: cfg.discovery_retry_max_seconds * 1000,
          requestTimeoutMs,
        });
    return {
      cfg: cfg as Runtime['cfg'],
      clientSecret,
      audience: cfg.audience ?? cfg.client_id,
      redirectUri: cfg.redirect_uri ?? joinUrl(deps.publicBaseUrl, '/auth/oidc/callback'),
      postLogoutRedirectUri: cfg.post_logout_redirect_uri ?? joinUrl(deps.publicBaseUrl, '/'),
      discovery,
      sealer: cfg.cookie_secret ? new CookieSealer(cfg.cookie_secret) : processSealer,
      fingerprint: settingsFingerprint(cfg),
    };
  }

  const revocations = new SessionRevocations();
  let runtime = build(parseOidcConfig(config), undefined);
  if (!runtime) log.info('OIDC/SSO disabled (no oidc.issuer configured)');

  const authenticator: OidcAuthenticatorHandle = {
    status(): OidcStatus {
      if (!runtime) return 'disabled';
      return runtime.discovery.discovered ? 'ready' : 'unavailable';
    },

    looksLikeJwt,

    async verifyBearer(jwt: string): Promise<Identity> {
      // One snapshot for the whole verification, even if a reload lands meanwhile.
      const { rt, discovered } = requireDiscovered(runtime);
      const claims = await verifyJwt(jwt, discovered, {
        issuer: rt.cfg.issuer,
        audience: rt.audience,
        algorithms: rt.cfg.algorithms,
        clockToleranceSeconds: rt.cfg.clock_tolerance_seconds,
        nowMs: now(),
      });
      try {
        return identityFromClaims(claims, rt.cfg);
      } catch (err) {
        // The seam promises `unauthenticated` for every bearer failure; keep the specific message.
        if (err instanceof LokiError && err.code !== 'unauthenticated') throw new LokiError('unauthenticated', err.message);
        throw err;
      }
    },

    async identityFromCookie(req: FastifyRequest): Promise<Identity | undefined> {
      const rt = runtime;
      if (!rt) return undefined;
      const t = now();
      const claims = await rt.sealer.open('session', readCookie(req.headers.cookie, sessionCookie), t);
      if (!claims) return undefined;
      const key = sessionKey(claims);
      if (key && revocations.isRevoked(key, t)) return undefined;
      return identityFromSession(claims, rt);
    },

    async stillValid(identity: Identity): Promise<boolean> {
      const rt = runtime;
      if (!rt) return false;
      const s = identity.oidcSession;
      if (s) {
        // The checks a request with the cookie gets (identityFromCookie), on what the stream was opened with.
        const t = now();
        return s.expiresAtMs > t && s.fingerprint === rt.fingerprint && !(s.key !== undefined && revocations.isRevoked(s.key, t));
      }
      if (!identity.credential) return false;
      if (!rt.discovery.discovered) return true;
      try {
        await authenticator.verifyBearer(identity.credential);
        return true;
      } catch {
        return false;
      }
    },

    async registerRoutes(app: FastifyInstance): Promise<void> {
      registerOidcRoutes(app, {
        runtime: () => runtime,
        now,
        log,
        secureCookies: deps.secureCookies,
        routeConfig: deps.routeConfig ?? {},
        tokenTimeoutMs: requestTimeoutMs * 2,
        revocations,
      });
    },

    /** Throws LokiError('invalid_config') and keeps the running settings when the new ones are invalid. */
    reload(next: unknown): void {
      if (closed) return;
      const cfg = parseOidcConfig(next);
      const prev = runtime;
      const built = build(cfg, prev);
      runtime = built;
      if (prev && prev.discovery !== built?.discovery) prev.discovery.close();
      log.info({ status: authenticator.status(), issuer: cfg.issuer }, 'OIDC settings reloaded');
    },

    async settled(): Promise<OidcStatus> {
      if (runtime) await runtime.discovery.firstAttempt;
      return authenticator.status();
    },

    async close(): Promise<void> {
      closed = true;
      runtime?.discovery.close();
    },
  };
  return authenticator;
}
