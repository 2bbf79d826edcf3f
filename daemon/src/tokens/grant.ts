// Turns a request's `role` and/or `scopes` into the scopes a token carries.
// Rule (docs/authentication.md): role alone → that role's scopes; scopes alone →
// those scopes, labelled with the role that has exactly that set (else custom);
// both → they must name the same set, because a token whose role says one thing
// and whose scopes say another is a misconfiguration waiting to be misread.
import { LokiError, ROLES, SCOPES, isRole, isScope, type Role, type Scope } from '../../../common/src/index.js';

export interface Grant {
  role: Role | '';
  scopes: Scope[];
}

/** Dedupes (keeping the caller's order, which the CLI echoes back) and collapses anything containing `*` to `*`. */
export function normalizeScopes(scopes: readonly Scope[]): Scope[] {
  if (scopes.includes('*')) return ['*'];
  return [...new Set(scopes)];
}

function sameSet(a: readonly Scope[], b: readonly Scope[]): boolean {
  return a.length === b.length && a.every((s) => b.includes(s));
}

function parseScopes(raw: readonly string[]): Scope[] {
  const parts = raw.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const unknown = parts.filter((s) => !isScope(s));
  if (unknown.length) {
    throw new LokiError(
      'invalid_argument',
      `unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((s) => JSON.stringify(s)).join(', ')} (known: ${SCOPES.join(', ')})`,
    );
  }
  return normalizeScopes(parts as Scope[]);
}

function roleFor(scopes: readonly Scope[]): Role | '' {
  for (const [role, rs] of Object.entries(ROLES)) {
    if (sameSet(normalizeScopes(rs), scopes)) return role as Role;
  }
  return '';
}

export function resolveGrant(role: string, rawScopes: readonly string[], defaultRole: Role): Grant {
  const r = role.trim();
  if (r !== '' && !isRole(r)) {
    throw new LokiError('invalid_argument', `unknown role ${JSON.stringify(r)} (known: ${Object.keys(ROLES).join(', ')})`);
  }
  const scopes = parseScopes(rawScopes);
  if (r === '' && scopes.length === 0) return { role: defaultRole, scopes: normalizeScopes(ROLES[defaultRole]) };
  if (r === '') return { role: roleFor(scopes), scopes };
  const roleScopes = normalizeScopes(ROLES[r as Role]);
  if (scopes.length && !sameSet(scopes, roleScopes)) {
    throw new LokiError(
      'invalid_argument',
      `scopes "${scopes.join(',')}" conflict with role "${r}" (which grants "${roleScopes.join(',')}"); pass either --role or --scopes`,
    );
  }
  return { role: r as Role, scopes: roleScopes };
}
