// Browser sessions for a pasted API token: the token is exchanged once for an
// opaque random session id in an HttpOnly, SameSite=Strict cookie (Secure under
// TLS), so it never lives in page JavaScript or browser storage. The gateway
// keeps the token in memory only, keyed by the SHA-256 of the session id, and
// re-verifies it on every request (so a revoked token ends its cookie sessions
// too). Each session has a CSRF token the page sends back in `x-csrf-token` on
// every state change. A gateway restart ends every browser session.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readCookie } from './oidc/cookies.js';

/** `__Host-` pins the cookie to this origin, path `/`, Secure and no Domain (browsers enforce it). */
export const WEB_COOKIE_SECURE = '__Host-loki-web';
export const WEB_COOKIE = 'loki-web';
/** Absolute lifetime of a browser session (a token that expires sooner ends it sooner). */
export const WEB_SESSION_MAX_AGE_S = 12 * 3600;
const MAX_SESSIONS = 10_000;

export interface WebSession {
  /** The pasted token; only the authenticator reads it (to re-verify it per request). */
  token: string;
  csrf: string;
  subject: string;
  createdAtMs: number;
  expiresAtMs: number;
}

function key(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export function sameSecret(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class WebSessionStore {
  private readonly sessions = new Map<string, WebSession>();
  private readonly now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  cookieName(secure: boolean): string {
    return secure ? WEB_COOKIE_SECURE : WEB_COOKIE;
  }

  /** Creates a session; returns the cookie value (shown to nobody but the browser) and the session. */
  create(token: string, subject: string, tokenExpiresAtMs: number): { id: string; session: WebSession } {
    const now = this.now();
    this.sweep(now);
    if (this.sessions.size >= MAX_SESSIONS) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.sessions.keys().next();
      if (!oldest.done) this.sessions.delete(oldest.value);
    }
    const id = randomBytes(32).toString('base64url');
    const limit = now + WEB_SESSION_MAX_AGE_S * 1000;
    const session: WebSession = {
      token,
      csrf: randomBytes(32).toString('base64url'),
      subject,
      createdAtMs: now,
      expiresAtMs: tokenExpiresAtMs > 0 ? Math.min(limit, tokenExpiresAtMs) : limit,
    };
    this.sessions.set(key(id), session);
    return { id, session };
  }

  /** The live session named by the request's cookie, if any. */
  fromCookieHeader(header: string | string[] | undefined, secure: boolean): { id: string; session: WebSession } | undefined {
    const id = readCookie(header, this.cookieName(secure));
    if (!id) return undefined;
    const session = this.get(id);
    return session ? { id, session } : undefined;
  }

  get(id: string): WebSession | undefined {
    const k = key(id);
    const s = this.sessions.get(k);
    if (!s) return undefined;
    if (s.expiresAtMs <= this.now()) {
      this.sessions.delete(k);
      return undefined;
    }
    return s;
  }

  /** Logout: the cookie value stops working everywhere at once. */
  revoke(id: string): boolean {
    return this.sessions.delete(key(id));
  }

  /** Ends every browser session of a token that failed verification (revoked or expired). */
  revokeToken(token: string): void {
    for (const [k, s] of this.sessions) if (s.token === token) this.sessions.delete(k);
  }

  size(): number {
    return this.sessions.size;
  }

  private sweep(now: number): void {
    for (const [k, s] of this.sessions) if (s.expiresAtMs <= now) this.sessions.delete(k);
  }
}

/** Set-Cookie for the session: HttpOnly, SameSite=Strict, Path=/, Secure under TLS. */
export function webSessionCookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  const parts = [`${name}=${value}`, 'Path=/', `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Strict'];
  if (maxAgeSeconds <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (secure) parts.push('Secure');
  return parts.join('; ');
}
