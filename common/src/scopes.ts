// Loki Mode's scopes and roles. Hierarchy: `*` ⊇ everything; control ⊇ write ⊇ read.
export const SCOPES = ['*', 'control', 'write', 'read', 'audit'] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES = {
  admin: ['*'],
  operator: ['control', 'write', 'read'],
  viewer: ['read'],
  auditor: ['read', 'audit'],
} as const satisfies Record<string, readonly Scope[]>;
export type Role = keyof typeof ROLES;

const IMPLIES: Readonly<Record<Scope, readonly Scope[]>> = {
  '*': ['*', 'control', 'write', 'read', 'audit'],
  control: ['control', 'write', 'read'],
  write: ['write', 'read'],
  read: ['read'],
  audit: ['audit'],
};

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

export function isRole(s: string): s is Role {
  return Object.hasOwn(ROLES, s);
}

/** True when the granted scopes include `required` directly or through the hierarchy. */
export function hasScope(granted: readonly string[], required: Scope): boolean {
  for (const g of granted) {
    if (isScope(g) && IMPLIES[g].includes(required)) return true;
  }
  return false;
}
