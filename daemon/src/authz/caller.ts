// Who may do what, independent of the transport a call came in on: the caller
// (resolved at the door by grpc/caller.ts) and the checks every feature makes.
import { LokiError, hasScope, type Scope } from '../../../common/src/index.js';

export type CallerRole = 'local-admin' | 'gateway' | 'agent';

export interface Caller {
  role: CallerRole;
  /** `local:<uid>`, `token:<name>`, `oidc:<sub>`, `gateway` (the gateway itself), or `session:<id>` for the agent role. */
  subject: string;
  /** Effective scopes; local admin has `*`. */
  scopes: readonly string[];
  /** How the subject authenticated: `local`, `token:<name>`, `oidc:<sub>`, `gateway`, `anonymous`, `agent`. */
  auth: string;
  requestId: string;
  clientIp: string;
  /** For the agent role: the one session this caller may speak for. */
  sessionId?: string;
  /**
   * Gateway door only: true when no end-user credential came with the call; the
   * caller is then the gateway itself and holds no user's rights.
   */
  unverified?: boolean;
  /** Gateway door only: the subject the gateway *claimed* (audit context, never identity). */
  reportedSubject?: string;
}

/** Throws unless the caller holds `scope`. The agent role never holds any operator scope. */
export function requireScope(caller: Caller, scope: Scope): void {
  if (caller.role === 'agent') throw new LokiError('permission_denied', 'the agent role cannot call this method');
  if (!hasScope(caller.scopes, scope)) {
    throw new LokiError('permission_denied', `this call needs the "${scope}" scope`);
  }
}

/** Owner-scoped resources: the owner, a `*` holder or the local admin may act on them. */
export function canAccessOwned(caller: Caller, owner: string): boolean {
  if (caller.role === 'local-admin') return true;
  if (caller.role === 'agent') return false;
  return hasScope(caller.scopes, '*') || caller.subject === owner;
}
