// Who is calling. The role comes from the door the call came in through (which
// listener), never from anything in the request. On the gateway's door the end
// user is whoever the forwarded *credential* proves: the daemon verifies it
// itself, and forwarded subjects or scopes are never read as identity. So a
// compromised gateway can act only as the users whose live credentials pass
// through it.
import type { Metadata } from '@grpc/grpc-js';
import { LokiError, ROLES, type Role, type Scope } from '../../../common/src/index.js';
import type { Caller, CallerRole } from '../authz/caller.js';
import type { CredentialVerifier, VerifiedCredential } from '../auth/verifier.js';
import type { SubjectSlots } from './subject-slots.js';
import { LIMITS as AUDIT_LIMITS } from '../audit/format.js';

const SAFE = /^[\x20-\x7e]{1,256}$/;
/** Tokens are ~50 characters, JWTs a few KB; anything longer is refused before any work. */
const CREDENTIAL = /^[\x21-\x7e]{1,16384}$/;
export const CREDENTIAL_METADATA = 'x-loki-credential';

/**
 * A printable metadata value, or undefined. `max`: values that go into audit entries
 * are held to the audit log's own field limits. One the log would refuse (a 200-character
 * request id, a 100-character client ip) made every audit record of the call fail, and
 * actions audited once done stayed done, unaudited (a sandbox started, a token revoked).
 */
function md(metadata: Metadata, key: string, max = 256): string | undefined {
  const v = metadata.get(key)[0];
  if (typeof v !== 'string' || !SAFE.test(v) || v.length > max) return undefined;
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
  /** Open streams per verified subject, shared by every gateway door; unbounded without one. */
  streams?: SubjectSlots;
  /** Unary calls in progress per verified subject (the gateway's own credential-less calls are not counted); unbounded without one. */
  calls?: SubjectSlots;
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

function gatewayCaller(method: string, metadata: Metadata, trust: GatewayTrust, requestId: string): Caller | Promise<Caller> {
  // Request id and client IP are the gateway's report; audit entries say so.
  const clientIp = md(metadata, 'x-loki-client-ip', AUDIT_LIMITS.ip) ?? '';
  const reported = md(metadata, 'x-loki-subject');
  const raw = metadata.get(CREDENTIAL_METADATA)[0];
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !CREDENTIAL.test(raw)) throw new LokiError('unauthenticated', 'the forwarded credential is malformed');
    const verifier = trust.verifier;
    if (!verifier) throw new LokiError('unauthenticated', 'this daemon door does not verify end-user credentials');
    const verified = (v: VerifiedCredential): Caller => gatewayUser(requestId, clientIp, reported, v);
    // An audit event buffered while the daemon was down may carry a credential
    // that expired meanwhile: it is still recorded, as the gateway's own report.
    const refused = (err: unknown): Caller => {
      if (method === 'AuditService.Record') return { ...gatewayBase(requestId, clientIp, reported), subject: 'gateway', scopes: GATEWAY_SELF_CALLS[method]!, auth: 'gateway', unverified: true };
      throw err;
    };
    let v: VerifiedCredential | Promise<VerifiedCredential>;
    try {
      // A live cache entry answers synchronously: the common call costs no promise here.
      v = verifier.check ? verifier.check(raw) : verifier.verify(raw);
    } catch (err) {
      return refused(err);
    }
    return v instanceof Promise ? v.then(verified, refused) : verified(v);
  }
  const base = gatewayBase(requestId, clientIp, reported);
  const anon = trust.anonymousRole ?? 'none';
  if (anon !== 'none') return { ...base, subject: 'anonymous', scopes: [...ROLES[anon]], auth: 'anonymous' };
  if (isGatewaySelfCall(method)) return { ...base, subject: 'gateway', scopes: GATEWAY_SELF_CALLS[method]!, auth: 'gateway', unverified: true };
  throw noCredential(method);
}

function gatewayBase(requestId: string, clientIp: string, reported: string | undefined): Pick<Caller, 'role' | 'requestId' | 'clientIp' | 'reportedSubject'> {
  return reported ? { role: 'gateway', requestId, clientIp, reportedSubject: reported } : { role: 'gateway', requestId, clientIp };
}

/** An end user on the gateway's door: subject and scopes come from the verified credential alone. */
function gatewayUser(requestId: string, clientIp: string, reported: string | undefined, v: VerifiedCredential): Caller {
  const c: Caller = { role: 'gateway', subject: v.subject, scopes: v.scopes, auth: v.auth, requestId, clientIp };
  if (reported) c.reportedSubject = reported;
  return c;
}

/**
 * Resolves the caller of one call: from the door, and on the gateway door from the
 * verified credential. Synchronous when nothing needs waiting for (the local and
 * agent doors, a credential the verifier has just checked); a refusal is thrown or
 * rejected.
 */
export function resolveCaller(listener: ListenerIdentity, metadata: Metadata, method: string, trust: GatewayTrust = {}): Caller | Promise<Caller> {
  const requestId = md(metadata, 'x-loki-request-id', AUDIT_LIMITS.requestId) ?? '';
  switch (listener.role) {
    case 'local-admin': {
      // Only principals the socket's file mode admits reach here; the uid the CLI
      // reports is informational (who in the admin group), never a privilege.
      const uid = md(metadata, 'x-loki-local-uid');
      const subject = `local:${uid && /^\d{1,10}$/.test(uid) ? uid : String(listener.localUid ?? 0)}`;
      return { role: 'local-admin', subject, scopes: ['*'], auth: 'local', requestId, clientIp: 'local' };
    }
    case 'gateway':
      return gatewayCaller(method, metadata, trust, requestId);
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
