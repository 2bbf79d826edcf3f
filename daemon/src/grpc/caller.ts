// Who is calling. The role comes from the door the call came in through (which
// listener), never from anything in the request. Forwarded end-user identity is
// read from metadata only on the gateway role.
import type { Metadata } from '@grpc/grpc-js';
import { LokiError, hasScope, type Scope } from '../../../common/src/index.js';

export type CallerRole = 'local-admin' | 'gateway' | 'agent';

export interface Caller {
  role: CallerRole;
  /** `local:<uid>`, `token:<name>`, `oidc:<sub>`, or `session:<id>` for the agent role. */
  subject: string;
  /** Effective scopes; local admin has `*`. */
  scopes: readonly string[];
  /** How the subject authenticated: `local`, `token:<name>`, `oidc:<sub>`, `agent`. */
  auth: string;
  requestId: string;
  clientIp: string;
  /** For the agent role: the one session this caller may speak for. */
  sessionId?: string;
}

const SAFE = /^[\x20-\x7e]{1,256}$/;

function md(metadata: Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  if (typeof v !== 'string' || !SAFE.test(v)) return undefined;
  return v;
}

export interface ListenerIdentity {
  role: CallerRole;
  /** For the agent role: the session bound to this listener. */
  sessionId?: string;
  /** uid of the daemon process (subject for local callers that do not say more). */
  localUid?: number;
}

export function callerFromMetadata(listener: ListenerIdentity, metadata: Metadata): Caller {
  const requestId = md(metadata, 'x-loki-request-id') ?? '';
  switch (listener.role) {
    case 'local-admin': {
      // Only principals the socket's file mode admits reach here; the uid the CLI
      // reports is informational (who in the admin group), never a privilege.
      const uid = md(metadata, 'x-loki-local-uid');
      const subject = `local:${uid && /^\d{1,10}$/.test(uid) ? uid : String(listener.localUid ?? 0)}`;
      return { role: 'local-admin', subject, scopes: ['*'], auth: 'local', requestId, clientIp: 'local' };
    }
    case 'gateway': {
      const subject = md(metadata, 'x-loki-subject');
      const scopes = (md(metadata, 'x-loki-scopes') ?? '').split(/[ ,]+/).filter(Boolean);
      return {
        role: 'gateway',
        subject: subject ?? 'anonymous',
        scopes: subject ? scopes : [],
        auth: md(metadata, 'x-loki-auth') ?? 'none',
        requestId,
        clientIp: md(metadata, 'x-loki-client-ip') ?? '',
      };
    }
    case 'agent':
      return {
        role: 'agent',
        subject: `session:${listener.sessionId ?? ''}`,
        scopes: [],
        auth: 'agent',
        requestId,
        clientIp: 'sandbox',
        ...(listener.sessionId ? { sessionId: listener.sessionId } : {}),
      };
  }
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
