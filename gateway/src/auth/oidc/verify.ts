// JWT verification against the discovered issuer, with jose errors turned into
// messages that are safe to show a client (they never echo the token).
import type { JWTPayload, errors as JoseErrors } from 'jose';
import { LokiError } from '../../../../common/src/errors.js';
import type { Discovered } from './discovery.js';

export interface VerifySettings {
  issuer: string;
  audience: string;
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  nowMs: number;
}

/** Compact JWS shape; an empty third part is `alg: none`, which must still reach the verifier to be refused. */
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;
export const MAX_JWT_LENGTH = 16 * 1024;

export function looksLikeJwt(credential: string): boolean {
  return credential.length <= MAX_JWT_LENGTH && JWT_SHAPE.test(credential);
}

function describe(err: unknown, errors: typeof JoseErrors): string {
  if (err instanceof errors.JWTExpired) return 'OIDC token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return 'OIDC token was not issued by the configured issuer';
      case 'aud':
        return 'OIDC token is not intended for this audience';
      case 'nbf':
        return 'OIDC token is not valid yet';
      case 'iat':
        return 'OIDC token has an invalid issued-at time';
      default:
        return `OIDC token is missing or has an invalid ${err.claim} claim`;
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'OIDC token is signed with an algorithm that is not allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'OIDC token signature is invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'OIDC token is signed by a key the issuer does not publish';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'OIDC token does not identify its signing key (kid)';
  if (err instanceof errors.JWKSTimeout) return 'OIDC provider did not answer in time (signing keys unavailable)';
  if (err instanceof errors.JOSENotSupported) return 'OIDC token uses an unsupported algorithm or key type';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'OIDC token is malformed';
  if (err instanceof errors.JOSEError) return 'OIDC token could not be verified';
  // Not a JOSE error: the JWKS fetch itself failed (network, HTTP status).
  return 'OIDC provider is unreachable (signing keys unavailable)';
}

/** Verifies signature, iss, aud, exp/nbf (with leeway) and the algorithm allow-list; returns the claims. */
export async function verifyJwt(token: string, discovered: Discovered, s: VerifySettings): Promise<JWTPayload> {
  if (!looksLikeJwt(token)) throw new LokiError('unauthenticated', 'OIDC token is malformed');
  // Loaded on first use: a gateway without OIDC never holds jose in memory.
  const { errors, jwtVerify } = await import('jose');
  try {
    const { payload } = await jwtVerify(token, discovered.jwks, {
      issuer: s.issuer,
      audience: s.audience,
      algorithms: [...s.algorithms],
      clockTolerance: s.clockToleranceSeconds,
      currentDate: new Date(s.nowMs),
      // A JWT without exp would be valid forever.
      requiredClaims: ['sub', 'exp'],
    });
    return payload;
  } catch (err) {
    // jose's claim errors carry the token payload; keep only the error code so logs never hold claims.
    const cause = err instanceof errors.JOSEError ? err.code : err;
    throw new LokiError('unauthenticated', describe(err, errors), { cause });
  }
}
