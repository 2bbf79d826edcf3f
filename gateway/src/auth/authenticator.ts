// Turns a request's credentials into an Identity: a bearer JWT goes to OIDC, a
// bearer `loki_…` token is verified by the daemon (cached briefly), a browser
// cookie goes to OIDC's session. The cache is keyed by the token's SHA-256 so
// the gateway never holds plaintext tokens beyond the request.
import { hash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { LokiError, ROLES, type Role } from '../../../common/src/index.js';
import type { DaemonClient, TokenVerification } from '../../../client/src/grpc/index.js';
import type { WebSessionStore } from './cookie-session.js';
import type { Identity } from './identity.js';
import type { OidcAuthenticator } from './oidc/types.js';

/** Bounded label set for loki_auth_failures_total{reason}. */
export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown'
  | 'expired'
  | 'revoked'
  | 'oidc_invalid'
  | 'oidc_unavailable'
  | 'locked_out';

export type AuthOutcome =
  | { kind: 'ok'; identity: Identity }
  | { kind: 'none' }
  | { kind: 'failed'; reason: AuthFailureReason; message: string };

export interface AuthSettings {
  enabled: boolean;
  anonymousRole: Role;
  tokenCacheMs: number;
}

interface CacheEntry {
  identity: Identity;
  until: number;
}

// A Loki token: `loki_` + base64url body (+ checksum). Anything else is refused
// before it costs a daemon round trip.
const TOKEN_SHAPE = /^loki_[A-Za-z0-9_-]{20,200}$/;
const BEARER = /^Bearer[ ]+(\S+)\s*$/i;
const MAX_CACHE = 10_000;

function refusal(daemonReason: string): AuthOutcome {
  const reason: AuthFailureReason = daemonReason === 'expired' || daemonReason === 'revoked' || daemonReason === 'malformed' ? daemonReason : 'unknown';
  const message = reason === 'expired' ? 'the token has expired' : reason === 'revoked' ? 'the token has been revoked' : 'the token is not valid';
  return { kind: 'failed', reason, message };
}

// Identities are built property by property rather than with object spreads: a spread
// copy of the cached identity cost ≈ 1.5 µs per request, a plain copy ≈ 0.1 µs.
function tokenIdentity(v: TokenVerification & { valid: true }): Identity {
  return { subject: v.subject, scopes: v.token.scopes, method: 'token', credentialId: v.token.id, role: v.token.role || undefined };
}

/**
 * A copy of a verified token identity carrying this request's credential (the cache keeps none).
 * One literal with every key a token identity has (see tokenIdentity): a copy of one fixed shape
 * instead of Object.assign's generic property walk.
 */
function withCredential(identity: Identity, credential: string): Identity {
  return { subject: identity.subject, scopes: identity.scopes, method: identity.method, credentialId: identity.credentialId, role: identity.role, credential };
}

export class Authenticator {
  private settings: AuthSettings;
  private readonly daemon: DaemonClient;
  private readonly oidc: OidcAuthenticator;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly now: () => number;
  private readonly web: WebSessionStore | undefined;
  private readonly secureCookies: () => boolean;

  constructor(opts: {
    daemon: DaemonClient;
    oidc: OidcAuthenticator;
    settings: AuthSettings;
    now?: () => number;
    /** Browser sessions made from a pasted token (the dashboard's login). */
    webSessions?: WebSessionStore;
    secureCookies?: () => boolean;
  }) {
    this.daemon = opts.daemon;
    this.oidc = opts.oidc;
    this.web = opts.webSessions;
    this.secureCookies = opts.secureCookies ?? (() => false);
    this.settings = { ...opts.settings };
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** SIGHUP: new settings and an empty token cache (revocations apply at once). */
  update(settings: AuthSettings): void {
    this.settings = { ...settings };
    this.cache.clear();
  }

  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Throws LokiError only for infrastructure problems (daemon down); credential problems are outcomes.
   * `daemon: false` (a locked-out address) answers only from what the gateway can check alone (the
   * token cache, OIDC): a Loki token it would have to ask the daemon about fails as `locked_out`.
   */
  async authenticate(req: FastifyRequest, requestId: string, opts: { daemon?: boolean } = {}): Promise<AuthOutcome> {
    const at = this.authenticateNow(req, opts);
    if (at) return at;
    const header = req.headers.authorization;
    if (header !== undefined) return this.bearer(BEARER.exec(header)![1]!, requestId, req.ip, opts.daemon !== false);
    const web = this.web?.fromCookieHeader(req.headers.cookie, this.secureCookies());
    if (web) {
      // Re-verified on every request (through the short cache), so revoking the token ends the browser session.
      const outcome = await this.bearer(web.session.token, requestId, req.ip, opts.daemon !== false);
      if (outcome.kind !== 'ok') {
        this.web!.revokeToken(web.session.token);
        return outcome;
      }
      return { kind: 'ok', identity: { ...outcome.identity, viaCookie: true, csrfToken: web.session.csrf, webSessionId: web.id } };
    }
    const fromCookie = await this.oidc.identityFromCookie(req);
    if (fromCookie) return { kind: 'ok', identity: { ...fromCookie, viaCookie: true } };
    return { kind: 'none' };
  }

  /**
   * The outcome when the gateway can tell without waiting (auth off, a malformed header, a
   * bearer Loki token in the cache or refused by its shape); undefined when `authenticate`
   * must ask the daemon or OIDC, or look at cookies. Same options and outcomes as `authenticate`.
   */
  authenticateNow(req: FastifyRequest, opts: { daemon?: boolean } = {}): AuthOutcome | undefined {
    if (!this.settings.enabled) {
      // Auth off is accepted only on a loopback bind (config refuses otherwise):
      // a single local user, who gets the configured role (admin by default).
      const role = this.settings.anonymousRole;
      return { kind: 'ok', identity: { subject: 'anonymous', scopes: [...ROLES[role]], method: 'none', role } };
    }
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    // The usual header without the general pattern: a credential of TOKEN_SHAPE holds no
    // whitespace, so BEARER would capture exactly this text.
    if (header.startsWith('Bearer loki_')) {
      const credential = header.slice(7);
      if (TOKEN_SHAPE.test(credential)) return this.lokiTokenNow(credential, opts.daemon !== false);
    }
    const m = BEARER.exec(header);
    if (!m) return { kind: 'failed', reason: 'malformed', message: 'the Authorization header must be "Bearer <token>"' };
    return this.bearerNow(m[1]!, opts.daemon !== false);
  }

  /**
   * Whether an identity admitted earlier (an open stream's) still passes, by the rules a new
   * request would meet: its API token (also behind a browser session or a stream ticket) checked
   * again through the same short cache as requests, and its browser session not logged out; an
   * OIDC browser session not expired or logged out, an OIDC bearer JWT not expired (oidc/types.ts).
   * Every identity passes with auth off, and while the daemon cannot be asked: a blip must not
   * cut every stream.
   */
  async stillValid(identity: Identity, requestId: string, clientIp: string): Promise<boolean> {
    if (!this.settings.enabled) return true;
    if (identity.method === 'oidc') return this.oidc.stillValid(identity);
    if (identity.method !== 'token' || !identity.credential) return true;
    // Logged out of the dashboard: the token may live on, this browser session's streams end.
    if (identity.webSessionId !== undefined && this.web && !this.web.get(identity.webSessionId)) return false;
    try {
      return (await this.bearer(identity.credential, requestId, clientIp)).kind === 'ok';
    } catch {
      return true;
    }
  }

  /** A pasted Loki token, verified by the daemon exactly as a bearer token is (the dashboard's login exchange). */
  async verifyToken(credential: string, requestId: string, clientIp: string): Promise<AuthOutcome & { expiresAtMs?: number }> {
    if (!TOKEN_SHAPE.test(credential)) return { kind: 'failed', reason: 'malformed', message: 'that is not a Loki token: a token is loki_ followed by 20 to 200 letters, digits, _ or - (was it cut short when copied?)' };
    const v = await this.daemon.verifyToken(credential, { requestId, clientIp });
    if (!v.valid) return refusal(v.reason);
    return { kind: 'ok', identity: tokenIdentity(v), expiresAtMs: v.token.expiresAtMs };
  }

  /** A bearer credential answered without waiting: a malformed one, or a Loki token in the cache; undefined otherwise. */
  private bearerNow(credential: string, mayAskDaemon: boolean): AuthOutcome | undefined {
    // A Loki token holds no '.' and a JWT holds two, so the cheaper test goes first.
    if (TOKEN_SHAPE.test(credential)) return this.lokiTokenNow(credential, mayAskDaemon);
    if (this.oidc.looksLikeJwt(credential)) return undefined;
    return { kind: 'failed', reason: 'malformed', message: 'the bearer token is not a Loki token (loki_…) or a JWT' };
  }

  /** A Loki token (of TOKEN_SHAPE) from the cache; undefined when the daemon must be asked. */
  private lokiTokenNow(credential: string, mayAskDaemon: boolean): AuthOutcome | undefined {
    // One-shot hash: no Hash object per request.
    const key = hash('sha256', credential, 'base64url');
    const hit = this.cache.get(key);
    // The cache holds no plaintext: the credential is re-attached from this request.
    if (hit && hit.until > this.now()) return { kind: 'ok', identity: withCredential(hit.identity, credential) };
    if (hit) this.cache.delete(key);
    if (!mayAskDaemon) return { kind: 'failed', reason: 'locked_out', message: 'too many failed authentication attempts from this address' };
    return undefined;
  }

  private async bearer(credential: string, requestId: string, clientIp: string, mayAskDaemon = true): Promise<AuthOutcome> {
    const at = this.bearerNow(credential, mayAskDaemon);
    if (at) return at;
    if (this.oidc.looksLikeJwt(credential)) {
      const status = this.oidc.status();
      if (status !== 'ready') {
        // Say which: "not configured" is the operator's setting, "unavailable" a provider that will come back.
        const message =
          status === 'disabled'
            ? 'OIDC/SSO is not configured on this gateway, so a JWT is not accepted; use an API token (loki_…)'
            : 'OIDC is temporarily unavailable (the identity provider cannot be reached); API tokens still work';
        return { kind: 'failed', reason: 'oidc_unavailable', message };
      }
      try {
        return { kind: 'ok', identity: { ...(await this.oidc.verifyBearer(credential)), credential } };
      } catch (err) {
        const message = err instanceof LokiError && err.kind === 'unauthenticated' ? err.message : 'the OIDC token is not valid';
        return { kind: 'failed', reason: 'oidc_invalid', message };
      }
    }
    const now = this.now();
    const v = await this.daemon.verifyToken(credential, { requestId, clientIp });
    if (!v.valid) return refusal(v.reason);
    const identity = tokenIdentity(v);
    // Never cache past the token's own expiry.
    const until = Math.min(now + this.settings.tokenCacheMs, v.token.expiresAtMs > 0 ? v.token.expiresAtMs : Infinity);
    if (this.settings.tokenCacheMs > 0) {
      if (this.cache.size >= MAX_CACHE) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(hash('sha256', credential, 'base64url'), { identity, until });
    }
    return { kind: 'ok', identity: withCredential(identity, credential) };
  }
}
