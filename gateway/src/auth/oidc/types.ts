// The seam between the gateway's auth plugin and OIDC/SSO support.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../identity.js';

export type OidcStatus = 'disabled' | 'ready' | 'unavailable';

export interface OidcAuthenticator {
  /** `unavailable` while discovery/JWKS cannot be fetched (OIDC tokens are rejected, API tokens keep working). */
  status(): OidcStatus;
  /** True when the string looks like a JWT (three base64url parts) and should go to verifyBearer, not to token lookup. */
  looksLikeJwt(credential: string): boolean;
  /** Verifies a bearer JWT (signature, iss, aud, exp/nbf, alg allow-list) and maps claims to an Identity.
   *  Throws LokiError('unauthenticated', …) on any failure; the message is safe to show. */
  verifyBearer(jwt: string): Promise<Identity>;
  /** The identity of a browser session cookie, if the request carries a valid one. */
  identityFromCookie(req: FastifyRequest): Promise<Identity | undefined>;
  /**
   * Whether an OIDC identity admitted earlier (an open stream's) still passes: a browser session
   * not expired, not logged out and made under the current settings; a bearer JWT that verifies
   * again (not past its `exp`). True while the provider cannot be reached (a blip must not cut
   * every stream); false when OIDC is off.
   */
  stillValid(identity: Identity): Promise<boolean>;
  /** Registers GET /auth/oidc/login, GET /auth/oidc/callback, GET /auth/logout (all public routes). */
  registerRoutes(app: FastifyInstance): Promise<void>;
  /** Applies a new validated config (SIGHUP) atomically. */
  reload(config: unknown): void;
  close(): Promise<void>;
}
