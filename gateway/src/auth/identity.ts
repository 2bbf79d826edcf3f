// The authenticated principal of one HTTP request, as every gateway plugin sees it.
// The gateway forwards it to the daemon as x-loki-subject / x-loki-scopes /
// x-loki-auth metadata on the gateway socket; the daemon re-checks everything.

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
  /** Browser session from a pasted token: state changes must echo this in `x-csrf-token`. */
  csrfToken?: string;
  /** That browser session's cookie value (logout revokes it). */
  webSessionId?: string;
}
