// OIDC / SSO for the gateway: bearer JWTs, browser login, role mapping.
export { createOidcAuthenticator } from './authenticator.js';
export type { OidcDeps, OidcAuthenticatorHandle } from './authenticator.js';
export {
  oidcConfigSchema,
  oidcEnvBindings,
  parseOidcConfig,
  OIDC_ALGORITHMS,
  DEFAULT_OIDC_ALGORITHMS,
} from './config.js';
export type { OidcConfig } from './config.js';
export { mapRoles, identityFromClaims } from './roles.js';
export { safeReturnTo } from './routes.js';
export type { OidcAuthenticator, OidcStatus } from './types.js';
