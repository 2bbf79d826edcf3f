// gRPC adapter for loki.v1.TokenService: converts wire messages to domain calls
// on TokenStore, authorizes each call and audits token management.
// Token management needs `*` (admin); Verify is for the gateway (and the local
// admin, for diagnostics) — the agent role never gets this service at all.
import type { Server } from '@grpc/grpc-js';
import { LokiError, toLokiError } from '../../../common/src/index.js';
import {
  TokenServiceService,
  type GenerateTokenRequest,
  type GenerateTokenResponse,
  type ListTokensRequest,
  type ListTokensResponse,
  type RevokeTokenRequest,
  type RevokeTokenResponse,
  type Token,
  type TokenServiceServer,
  type VerifyTokenRequest,
  type VerifyTokenResponse,
} from '../../../proto/gen/loki/v1/tokens.js';
import type { AuditEventInput, AuditLog } from '../audit/types.js';
import { requireScope, type Caller } from '../authz/caller.js';
import type { ServiceModule } from '../grpc/module.js';
import { unary, type HandlerContext } from '../grpc/wrap.js';
import type { TokenRecord, TokenStore } from './store.js';

export interface TokenModuleDeps {
  store: TokenStore;
  audit: AuditLog;
}

export function toWireToken(t: TokenRecord): Token {
  return {
    id: t.id,
    name: t.name,
    scopes: [...t.scopes],
    role: t.role,
    owner: t.owner,
    createdAtMs: t.createdAt,
    expiresAtMs: t.expiresAt ?? 0,
    revokedAtMs: t.revokedAt ?? 0,
    lastUsedAtMs: t.lastUsedAt ?? 0,
  };
}

/** The subject a request authenticated with this token acts as. */
export function tokenSubject(t: TokenRecord): string {
  return `token:${t.name}`;
}

function auditResult(err: unknown): Pick<AuditEventInput, 'result' | 'reason'> {
  const le = toLokiError(err);
  return { result: le.kind === 'permission_denied' ? 'denied' : 'error', reason: le.kind === 'internal' ? 'internal error' : le.message };
}

/**
 * Runs `fn` and records exactly one audit event for it. The event carries names,
 * ids and scopes only; the secret and its hash never reach the audit log.
 */
async function audited<T>(
  audit: AuditLog,
  caller: Caller,
  action: string,
  resource: (res: T | undefined) => string,
  details: Record<string, unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  const base = { action, user: caller.subject, ip: caller.clientIp, request_id: caller.requestId, details };
  let res: T;
  try {
    res = await fn();
  } catch (err) {
    // The refused input may itself be what the audit format rejects (control
    // characters, overlong names): record a bounded, printable form, and never
    // let an audit problem replace the caller's real error.
    const r = auditResult(err);
    await audit
      .record({ ...base, resource: printable(resource(undefined), 256), result: r.result, reason: printable(r.reason ?? '', 1000) })
      .catch(() => undefined);
    throw err;
  }
  // Unaudited, the action is refused (unavailable). A token is only planned by `fn` and stored after this,
  // so an unaudited one never exists; a revoke stored before its entry stays revoked (the safe side).
  await audit.record({ ...base, resource: resource(res), result: 'success' });
  return res;
}

/** Control characters escaped, length bounded: safe to put in an audit field. */
function printable(s: string, max: number): string {
  const escaped = s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

function verifyAllowed(caller: Caller): void {
  if (caller.role !== 'gateway' && caller.role !== 'local-admin') {
    throw new LokiError('permission_denied', 'only the gateway may verify tokens');
  }
}

export function createTokenModule(deps: TokenModuleDeps): ServiceModule {
  if (!deps?.store || !deps.audit) throw new Error('createTokenModule needs store and audit');
  const { store, audit } = deps;
  return {
    name: 'loki.v1.TokenService',
    roles: ['local-admin', 'gateway'],
    register(server: Server, ctx: HandlerContext): void {
      const impl: TokenServiceServer = {
        generate: unary<GenerateTokenRequest, GenerateTokenResponse>(ctx, 'TokenService.Generate', async (req, caller) => {
          const details = { name: req.name, role: req.role, scopes: req.scopes, expires_days: req.expiresDays };
          // Audited, then stored: a daemon that dies in between leaves an entry for a token that does not
          // exist (its secret was never handed out), never a working token the audit log does not mention.
          const planned = await audited(
            audit,
            caller,
            'token.generate',
            (r) => (r ? `token:${r.token.id}` : `token:${req.name}`),
            details,
            async () => {
              requireScope(caller, '*');
              return store.plan({
                name: req.name,
                role: req.role,
                scopes: req.scopes,
                expiresDays: req.expiresDays,
                owner: caller.subject,
              });
            },
          );
          try {
            await store.commit(planned);
          } catch (err) {
            // Taken by a concurrent generate after the checks: the entry above did not take effect.
            const r = auditResult(err);
            await audit
              .record({ action: 'token.generate', user: caller.subject, ip: caller.clientIp, request_id: caller.requestId, details, resource: `token:${planned.token.id}`, result: r.result, reason: printable(`not created: ${r.reason ?? ''}`, 1000) })
              .catch(() => undefined);
            throw err;
          }
          return { token: toWireToken(planned.token), secret: planned.secret };
        }),
        list: unary<ListTokensRequest, ListTokensResponse>(ctx, 'TokenService.List', async (req, caller) => {
          requireScope(caller, '*');
          return { tokens: (await store.list({ all: req.all })).map(toWireToken) };
        }),
        revoke: unary<RevokeTokenRequest, RevokeTokenResponse>(ctx, 'TokenService.Revoke', async (req, caller) => {
          const token = await audited(
            audit,
            caller,
            'token.revoke',
            (r) => `token:${r ? r.id : req.nameOrId}`,
            { name_or_id: req.nameOrId },
            async () => {
              requireScope(caller, '*');
              return store.revoke(req.nameOrId);
            },
          );
          return { token: toWireToken(token) };
        }),
        verify: unary<VerifyTokenRequest, VerifyTokenResponse>(ctx, 'TokenService.Verify', async (req, caller) => {
          verifyAllowed(caller);
          const r = await store.verify(req.secret);
          if (!r.ok) return { valid: false, reason: r.reason, token: undefined, subject: '' };
          return { valid: true, reason: '', token: toWireToken(r.token), subject: tokenSubject(r.token) };
        }),
      };
      server.addService(TokenServiceService, impl);
    },
  };
}
