// OIDC claims → Loki roles, shared by the gateway (early rejection, cookies) and
// the daemon (which re-derives identity from the same JWT), so the two can never
// disagree about what a token grants. Only explicitly mapped claim values grant
// roles: a group that merely happens to be called "admin" in the IdP grants
// nothing, because in many directories users can create or join groups themselves.
import { LokiError } from './errors.js';
import { ROLES, type Role } from './scopes.js';

/** Most privileged first; the strongest mapped role names the identity's role. */
export const OIDC_ROLE_ORDER: readonly Role[] = ['admin', 'operator', 'auditor', 'viewer'];
/**
 * `oidc:<sub>` is a user in the audit log, which holds 256 characters: a longer subject
 * would make every audit record of that user's calls fail, after the actions audited
 * once done (a revoke, a sandbox start). OIDC allows subs of 255; such a user is refused.
 */
const MAX_SUB_LENGTH = 256 - 'oidc:'.length;

export interface RoleMappingSettings {
  role_claims: readonly string[];
  role_map: Readonly<Record<string, Role>>;
  default_role: Role | 'none';
}

function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function claimValues(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((v) => v !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The roles a token's claims map to (empty when nothing matches). */
export function mapOidcRoles(payload: Record<string, unknown>, cfg: RoleMappingSettings): Role[] {
  const found = new Set<Role>();
  for (const claim of cfg.role_claims) {
    for (const value of claimValues(claimAt(payload, claim))) {
      if (Object.hasOwn(cfg.role_map, value)) found.add(cfg.role_map[value]!);
    }
  }
  return OIDC_ROLE_ORDER.filter((r) => found.has(r));
}

export interface OidcGrant {
  subject: string;
  scopes: string[];
  role: Role;
  credentialId?: string;
}

/** Subject, scopes and strongest role for verified claims; throws when the subject is unusable or no role applies. */
export function oidcGrant(payload: Record<string, unknown>, cfg: RoleMappingSettings): OidcGrant {
  const sub = payload.sub;
  // The subject becomes an ownership key in the daemon: refuse anything that could be ambiguous in logs or metadata.
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH || /[\x00-\x1f\x7f,]/.test(sub)) {
    throw new LokiError('unauthenticated', 'OIDC token has no usable subject (sub) claim');
  }
  let roles = mapOidcRoles(payload, cfg);
  if (roles.length === 0) {
    if (cfg.default_role === 'none') {
      throw new LokiError('permission_denied', 'your identity provider account is not mapped to any Loki role');
    }
    roles = [cfg.default_role];
  }
  const scopes = [...new Set(roles.flatMap((r) => ROLES[r] as readonly string[]))];
  const grant: OidcGrant = { subject: `oidc:${sub}`, scopes, role: roles[0]! };
  const credentialId = typeof payload.sid === 'string' ? payload.sid : payload.jti;
  if (typeof credentialId === 'string' && credentialId.length <= MAX_SUB_LENGTH) grant.credentialId = credentialId;
  return grant;
}
