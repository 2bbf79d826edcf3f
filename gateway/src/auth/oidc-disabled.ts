// The OIDC seam's "off" implementation: used when OIDC is not configured (or its
// module is not mounted). JWTs are recognised so they get a clear 401 instead
// of being sent to the daemon as if they were API tokens.
import { LokiError } from '../../../common/src/index.js';
import type { OidcAuthenticator } from './oidc/types.js';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function disabledOidc(): OidcAuthenticator {
  return {
    status: () => 'disabled',
    looksLikeJwt: (credential) => JWT_SHAPE.test(credential),
    verifyBearer: async () => {
      throw new LokiError('unauthenticated', 'OIDC is not configured on this gateway');
    },
    identityFromCookie: async () => undefined,
    // With OIDC off no OIDC identity passes, as no request would.
    stillValid: async () => false,
    registerRoutes: async () => {},
    reload: () => {},
    close: async () => {},
  };
}
