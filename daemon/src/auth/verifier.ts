// Turns a credential the gateway forwarded into the identity the daemon acts on.
// The daemon never takes a forwarded subject or scope list: it looks the API
// token up itself (hash → row: expiry and revocation are read at the moment of
// the call) or verifies the OIDC JWT against the issuer's keys.
import { LokiError } from '../../../common/src/index.js';
import type { TokenStore } from '../tokens/store.js';
import type { OidcVerifier } from './oidc.js';

export interface VerifiedCredential {
  /** `token:<name>` or `oidc:<sub>`. */
  subject: string;
  scopes: readonly string[];
  /** How the subject authenticated, as audited (`token:<name>`, `oidc:<sub>`). */
  auth: string;
  /** Token id or OIDC sid/jti, for audit correlation. */
  credentialId?: string;
}

export interface CredentialVerifier {
  /** Throws LokiError('unauthenticated') for anything that is not a live credential. */
  verify(credential: string): Promise<VerifiedCredential>;
}

const TOKEN_PREFIX = 'loki_';

export function createCredentialVerifier(deps: { tokens: TokenStore; oidc?: OidcVerifier }): CredentialVerifier {
  return {
    async verify(credential: string): Promise<VerifiedCredential> {
      if (credential.startsWith(TOKEN_PREFIX)) {
        const r = deps.tokens.verify(credential);
        if (!r.ok) {
          const why = r.reason === 'expired' ? 'has expired' : r.reason === 'revoked' ? 'has been revoked' : 'is not valid';
          throw new LokiError('unauthenticated', `the forwarded API token ${why}`);
        }
        // Same subject as tokens/grpc.ts tokenSubject (kept inline: no import cycle through the gRPC layer).
        const subject = `token:${r.token.name}`;
        return { subject, scopes: r.token.scopes, auth: subject, credentialId: r.token.id };
      }
      if (!deps.oidc) throw new LokiError('unauthenticated', 'the forwarded credential is not a Loki API token');
      return deps.oidc.verify(credential);
    },
  };
}
