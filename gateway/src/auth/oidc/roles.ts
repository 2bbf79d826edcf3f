// Claims → Loki identity. The mapping itself lives in common/ so the daemon,
// which re-verifies the same JWT, derives exactly the same subject and scopes.
import type { JWTPayload } from 'jose';
import { mapOidcRoles, oidcGrant } from '../../../../common/src/oidc-claims.js';
import type { Role } from '../../../../common/src/scopes.js';
import type { Identity } from '../identity.js';
import type { OidcConfig } from './config.js';

export type RoleMappingConfig = Pick<OidcConfig, 'role_claims' | 'role_map' | 'default_role'>;

/** The roles a token's claims map to (empty when nothing matches). */
export function mapRoles(payload: JWTPayload, cfg: RoleMappingConfig): Role[] {
  return mapOidcRoles(payload, cfg);
}

/** Builds the Identity for verified claims; throws when the subject is unusable or no role applies. */
export function identityFromClaims(payload: JWTPayload, cfg: RoleMappingConfig): Identity {
  const g = oidcGrant(payload, cfg);
  const identity: Identity = { subject: g.subject, scopes: g.scopes, method: 'oidc', role: g.role };
  if (g.credentialId) identity.credentialId = g.credentialId;
  return identity;
}
