// The authenticated principal of one HTTP request, as every gateway plugin sees it.
// The gateway's checks here are for early rejection and rate limits only: it
// forwards the raw `credential` to the daemon (x-loki-credential), which verifies
// it itself and derives subject and scopes from it.

export type AuthMethod = 'token' | 'oidc' | 'none';

export interface Identity {
  /** `token:<name>` | `oidc:<sub>` | `anonymous` (auth disabled on loopback). */
  subject: string;
  /** Effective scopes after role mapping (`*`, control, write, read, audit). */
  scopes: string[];
  method: AuthMethod;
  /** Role name when the identity came from a role (admin/operator/viewer/auditor). */
  role?: string;
  /** Token id (tok-…) or OIDC `sid`/`jti`, for audit correlation. */
  credentialId?: string;
  /** Set for browser (cookie) sessions: state-changing requests need CSRF protection. */
  viaCookie?: boolean;
  /** The bearer token / OIDC JWT (for a cookie session: the ID token behind it). Forwarded, never logged. */
  credential?: string;
  /** Browser session from a pasted token: state changes must echo this in `x-csrf-token`. */
  csrfToken?: string;
  /** That browser session's cookie value (logout revokes it). */
  webSessionId?: string;
  /** An OIDC browser session: what an open stream's re-check needs to see it ended (expiry, logout, changed settings). */
  oidcSession?: OidcSessionRef;
}

export interface OidcSessionRef {
  /** What a logout revokes (runtime.ts sessionKey); undefined for a cookie that has none. */
  key: string | undefined;
  /** When the sealed session cookie expires (never after its ID token). */
  expiresAtMs: number;
  /** The OIDC settings fingerprint the session was made under. */
  fingerprint: string;
}
