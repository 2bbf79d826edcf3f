// Who is calling. The role comes from the door the call came in through (which
// listener), never from anything in the request. On the gateway's door the end
// user is whoever the forwarded *credential* proves: the daemon verifies it
// itself, and forwarded subjects or scopes are never read as identity. So a
// compromised gateway can act only as the users whose live credentials pass
// through it.
import type { Metadata } from '@grpc/grpc-js';
import { LokiError, ROLES, type Role, type Scope } from '../../../common/src/index.js';
import type { Caller, CallerRole } from '../authz/caller.js';
import type { CredentialVerifier } from '../auth/verifier.js';

const SAFE = /^[\x20-\x7e]{1,256}$/;
/** Tokens are ~50 characters, JWTs a few KB; anything longer is refused before any work. */
const CREDENTIAL = /^[\x21-\x7e]{1,16384}$/;
export const CREDENTIAL_METADATA = 'x-loki-credential';

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

export interface GatewayTrust {
  /** Verifies forwarded credentials; without one, no end-user call from the gateway is accepted. */
  verifier?: CredentialVerifier;
  /** Role for credential-less gateway calls (`none`: the gateway acts as itself, with no user's rights). */
  anonymousRole?: Role | 'none';
}

/** The gateway's own calls that need no end user, and the scopes they run with. */
const GATEWAY_SELF_CALLS: Readonly<Record<string, readonly Scope[]>> = {
  'TokenService.Verify': [],
  'AuditService.Record': [],
  // Aggregate numbers for the gateway's /metrics and /api/status (counts, no session content).
  'System.GetStatus': ['read'],
  'Session.Metrics': ['*'],
};

/** True when `method` is one the gateway may call as itself (no end-user credential). */
export function isGatewaySelfCall(method: string): boolean {
  return Object.hasOwn(GATEWAY_SELF_CALLS, method);
}

function noCredential(method: string): LokiError {
  return new LokiError(
    'unauthenticated',
    `${method} needs the end user's credential: the gateway must forward it in ${CREDENTIAL_METADATA} (forwarded subjects and scopes are not trusted)`,
  );
}

async function gatewayCaller(method: string, metadata: Metadata, trust: GatewayTrust, requestId: string): Promise<Caller> {
  // Request id and client IP are the gateway's report; audit entries say so.
  const clientIp = md(metadata, 'x-loki-client-ip') ?? '';
  const reported = md(metadata, 'x-loki-subject');
  const base = { role: 'gateway' as const, requestId, clientIp, ...(reported ? { reportedSubject: reported } : {}) };
  const raw = metadata.get(CREDENTIAL_METADATA)[0];
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !CREDENTIAL.test(raw)) throw new LokiError('unauthenticated', 'the forwarded credential is malformed');
    if (!trust.verifier) throw new LokiError('unauthenticated', 'this daemon door does not verify end-user credentials');
    try {
      const v = await trust.verifier.verify(raw);
      return { ...base, subject: v.subject, scopes: v.scopes, auth: v.auth };
    } catch (err) {
      // An audit event buffered while the daemon was down may carry a credential
      // that expired meanwhile: it is still recorded, as the gateway's own report.
      if (method === 'AuditService.Record') return { ...base, subject: 'gateway', scopes: GATEWAY_SELF_CALLS[method]!, auth: 'gateway', unverified: true };
      throw err;
    }
  }
  const anon = trust.anonymousRole ?? 'none';
  if (anon !== 'none') return { ...base, subject: 'anonymous', scopes: [...ROLES[anon]], auth: 'anonymous' };
  if (isGatewaySelfCall(method)) return { ...base, subject: 'gateway', scopes: GATEWAY_SELF_CALLS[method]!, auth: 'gateway', unverified: true };
  throw noCredential(method);
}

/** Resolves the caller of one call: from the door, and on the gateway door from the verified credential. */
export function resolveCaller(listener: ListenerIdentity, metadata: Metadata, method: string, trust: GatewayTrust = {}): Promise<Caller> {
  const requestId = md(metadata, 'x-loki-request-id') ?? '';
  switch (listener.role) {
    case 'local-admin': {
      // Only principals the socket's file mode admits reach here; the uid the CLI
      // reports is informational (who in the admin group), never a privilege.
      const uid = md(metadata, 'x-loki-local-uid');
      const subject = `local:${uid && /^\d{1,10}$/.test(uid) ? uid : String(listener.localUid ?? 0)}`;
      return Promise.resolve({ role: 'local-admin', subject, scopes: ['*'], auth: 'local', requestId, clientIp: 'local' });
    }
    case 'gateway':
      return gatewayCaller(method, metadata, trust, requestId);
    case 'agent':
      return Promise.resolve({
        role: 'agent',
        subject: `session:${listener.sessionId ?? ''}`,
        scopes: [],
        auth: 'agent',
        requestId,
        clientIp: 'sandbox',
        ...(listener.sessionId ? { sessionId: listener.sessionId } : {}),
      });
  }
}
