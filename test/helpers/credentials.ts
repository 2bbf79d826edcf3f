// A credential verifier for module tests that exercise authorization *behind*
// verification (who may approve, who sees which session). It hands out random
// opaque credentials for a chosen identity and accepts only those; the real
// verifier (token store, OIDC JWKS) is tested against real tokens and a real
// OpenID provider in test/daemon/auth/.
import { randomBytes } from 'node:crypto';
import { LokiError } from '../../common/src/index.js';
import type { CredentialVerifier, VerifiedCredential } from '../../daemon/src/auth/verifier.js';

export interface IssuingVerifier extends CredentialVerifier {
  /** A fresh credential that verifies as `subject` with `scopes`. */
  issue(subject: string, scopes: readonly string[]): string;
}

export function issuingVerifier(): IssuingVerifier {
  const issued = new Map<string, VerifiedCredential>();
  return {
    issue(subject, scopes) {
      const credential = `test_${randomBytes(18).toString('base64url')}`;
      issued.set(credential, { subject, scopes: [...scopes], auth: subject });
      return credential;
    },
    async verify(credential) {
      const v = issued.get(credential);
      if (!v) throw new LokiError('unauthenticated', 'unknown test credential');
      return v;
    },
  };
}
