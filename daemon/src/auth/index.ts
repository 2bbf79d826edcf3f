export { authConfigSchema, authEnvBindings, oidcVerifierConfigSchema } from './config.js';
export type { AuthConfig, OidcVerifierConfig } from './config.js';
export { OidcVerifier } from './oidc.js';
export { createCredentialVerifier } from './verifier.js';
export type { CredentialVerifier, VerifiedCredential } from './verifier.js';
