// One immutable snapshot of the OIDC settings. reload() builds a new snapshot
// and swaps a single reference, so a request sees either the old settings or
// the new ones, never a mix.
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { LokiError } from '../../../../common/src/errors.js';
import type { Identity } from '../identity.js';
import type { OidcConfig } from './config.js';
import type { CookieSealer } from './cookies.js';
import type { Discovered, IssuerDiscovery } from './discovery.js';

export interface Runtime {
  cfg: OidcConfig & { issuer: string; client_id: string };
  clientSecret: string | undefined;
  /** Expected `aud` of bearer JWTs. */
  audience: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  discovery: IssuerDiscovery;
  sealer: CookieSealer;
  /** Changes whenever a setting that shaped an existing session changes, which ends those sessions. */
  fingerprint: string;
}

export function settingsFingerprint(cfg: OidcConfig): string {
  const basis = JSON.stringify([cfg.issuer, cfg.client_id, cfg.role_claims, Object.entries(cfg.role_map).sort(), cfg.default_role]);
  return createHash('sha256').update(basis).digest('base64url').slice(0, 22);
}

/** The discovered provider, or the reason OIDC is refused right now. */
export function requireDiscovered(rt: Runtime | undefined): { rt: Runtime; discovered: Discovered } {
  if (!rt) throw new LokiError('unauthenticated', 'OIDC/SSO is not configured on this gateway');
  const discovered = rt.discovery.discovered;
  if (!discovered) {
    throw new LokiError('unauthenticated', 'OIDC is temporarily unavailable (the identity provider cannot be reached); API tokens still work');
  }
  return { rt, discovered };
}

export const SESSION_COOKIE = 'loki_session';
/** `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/. */
export const SECURE_SESSION_COOKIE = '__Host-loki_session';
export const STATE_COOKIE = 'loki_oidc_state';
export const STATE_COOKIE_PATH = '/auth/oidc';
export const STATE_TTL_SECONDS = 600;

/** The session cookie's claims, kept small: cookies over ~4 KB are dropped by browsers. */
export interface SessionClaims extends JWTPayload {
  subj: string;
  scp: string[];
  role?: string;
  sid?: string;
  fp: string;
  /** The verified ID token: forwarded to the daemon, which re-verifies it (the cookie never outlives it). */
  idt?: string;
}

/**
 * What a logout revokes: this one sign-in. `jti` is random per cookie; the IdP's
 * `sid` is not enough on its own (signing in again within the same IdP session
 * gets the same `sid`, and must not be refused). Cookies sealed before `jti`
 * existed fall back to `sid` and their issue time.
 */
export function sessionKey(claims: JWTPayload): string | undefined {
  if (typeof claims.jti === 'string') return claims.jti;
  return typeof claims.sid === 'string' && typeof claims.iat === 'number' ? `${claims.sid}@${claims.iat}` : undefined;
}

export function identityFromSession(claims: JWTPayload, rt: Runtime): Identity | undefined {
  if (claims.fp !== rt.fingerprint) return undefined;
  if (typeof claims.subj !== 'string' || !claims.subj.startsWith('oidc:')) return undefined;
  if (!Array.isArray(claims.scp) || !claims.scp.every((s) => typeof s === 'string')) return undefined;
  const identity: Identity = { subject: claims.subj, scopes: [...(claims.scp as string[])], method: 'oidc', viaCookie: true };
  if (typeof claims.role === 'string') identity.role = claims.role;
  if (typeof claims.sid === 'string') identity.credentialId = claims.sid;
  if (typeof claims.idt === 'string') identity.credential = claims.idt;
  if (typeof claims.exp === 'number') identity.oidcSession = { key: sessionKey(claims), expiresAtMs: claims.exp * 1000, fingerprint: rt.fingerprint };
  return identity;
}

/**
 * Browser sessions ended by a logout, by `sessionKey`, until the sealed
 * cookie would have expired anyway. The cookie is stateless, so without this a
 * copy taken before the logout would keep working until its `exp`. Held in this
 * gateway's memory: a restart forgets it (then a copied cookie works again until
 * its `exp`, at most `session_max_age_seconds`).
 */
export class SessionRevocations {
  private readonly until = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  revoke(sid: string, untilMs: number, nowMs: number): void {
    if (this.until.size >= this.max) this.prune(nowMs);
    // Still full of live entries: the oldest is dropped (a session revoked that long ago
    // has the least time left to run).
    if (this.until.size >= this.max) this.until.delete(this.until.keys().next().value as string);
    this.until.set(sid, Math.max(untilMs, this.until.get(sid) ?? 0));
  }

  isRevoked(sid: string, nowMs: number): boolean {
    const t = this.until.get(sid);
    if (t === undefined) return false;
    if (t > nowMs) return true;
    this.until.delete(sid);
    return false;
  }

  get size(): number {
    return this.until.size;
  }

  private prune(nowMs: number): void {
    for (const [sid, t] of this.until) if (t <= nowMs) this.until.delete(sid);
  }
}
