// The gRPC transport's connection to the daemon: its admin socket (the CLI and
// dashboards on the daemon's host), its gateway socket, or its mutual-TLS TCP
// listener (the gateway, possibly on another machine). Every call carries an
// identity as metadata (the daemon trusts forwarded identity only from the
// gateway role and re-checks scope and ownership itself).
// `forCaller(id)` is the LokiClient bound to one caller; the per-call methods
// below are the gateway's older surface (token verification, audit forwarding,
// health) and stay for it. Generated messages stay inside client/src/grpc/.
import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { BatchServiceClient } from '../../../proto/gen/loki/v1/batch.js';
import { HealthCheckResponse_ServingStatus } from '../../../proto/gen/grpc/health/v1/health.js';
import type { AuditEntry as PbAuditEntry } from '../../../proto/gen/loki/v1/audit.js';
import type { Token } from '../../../proto/gen/loki/v1/tokens.js';
import type { LokiClient } from '../client.js';
import type { SessionListOptions, SessionPage } from '../session-pages.js';
import type { DaemonStatus } from '../types.js';
import { CallBatcher } from './batcher.js';
import { toStatus } from './convert.js';
import { createSessionsClient, type SessionsClient } from './daemon-client-sessions.js';
import { Deadlines, deadlineExceeded } from './deadlines.js';
import { channelFor, fromServiceError, metadataFor, type CallIdentity, type DaemonTarget, type Invoke, type Unary } from './daemon-client-wire.js';
import { createGrpcLokiClient, listSessionsPage } from './loki-client.js';
import { createServices } from './services.js';

export { fromServiceError } from './daemon-client-wire.js';
export type { CallIdentity, DaemonTarget, DaemonTlsMaterial } from './daemon-client-wire.js';
export type { SessionEventHandlers, SessionEventStream, SessionsClient } from './daemon-client-sessions.js';

export interface TokenInfo {
  id: string;
  name: string;
  scopes: string[];
  role: string;
  owner: string;
  createdAtMs: number;
  expiresAtMs: number;
  revokedAtMs: number;
  lastUsedAtMs: number;
}

export type TokenVerification =
  | { valid: true; token: TokenInfo; subject: string }
  | { valid: false; reason: string };

export interface AuditRecordInput {
  action: string;
  resource: string;
  details?: Record<string, unknown>;
  result: 'success' | 'denied' | 'error';
  reason?: string;
}

export interface AuditEntryInfo {
  timestamp: string;
  action: string;
  user: string;
  resource: string;
  details: Record<string, unknown>;
  ip: string;
  result: string;
  reason: string;
  requestId: string;
  seq: number;
}

export interface AuditQueryInput {
  limit: number;
  action?: string;
  user?: string;
  result?: string;
  since?: string;
  until?: string;
  cursor?: number;
}

export interface AuditSummaryInfo {
  total: number;
  byAction: Record<string, number>;
  byUser: Record<string, number>;
  byResult: Record<string, number>;
  since: string;
  until: string;
}

export interface DaemonClient {
  getStatus(id: CallIdentity): Promise<DaemonStatus>;
  verifyToken(secret: string, id: CallIdentity): Promise<TokenVerification>;
  /** Gateway-observed events; the daemon stamps user, ip and request id from the forwarded identity. */
  recordAudit(event: AuditRecordInput, id: CallIdentity): Promise<void>;
  queryAudit(q: AuditQueryInput, id: CallIdentity): Promise<{ entries: AuditEntryInfo[]; nextCursor: number }>;
  auditSummary(range: { since?: string; until?: string }, id: CallIdentity): Promise<AuditSummaryInfo>;
  /** True when the daemon answers grpc.health.v1 Check with SERVING. Never throws. */
  isServing(timeoutMs: number): Promise<boolean>;
  /** SessionService's flow-controlled event stream for SSE; every other session call is `forCaller(id).sessions`. */
  readonly sessions: SessionsClient;
  /**
   * One page of the sessions `id` may see (= `forCaller(id).sessions.listPage`): the
   * list route's call, made without binding a LokiClient and its API group per request.
   */
  listSessions(o: SessionListOptions, id: CallIdentity): Promise<SessionPage>;
  /** The whole LokiClient, every call made as `id` (a function: evaluated per call). */
  forCaller(id: CallIdentity | (() => CallIdentity)): LokiClient;
  close(): void;
}

/** Observes each call's latency; the metrics module supplies it. */
export type CallObserver = (method: string, code: string, seconds: number) => void;

/** Either `{ socketPath }` (the local gateway socket) or `{ address, tls }` (mutual-TLS TCP). */
export type DaemonClientOptions = DaemonTarget & {
  timeoutMs: number;
  observe?: CallObserver;
  /** Adds transport-level metadata to every call (the CLI's `x-loki-local-uid`). */
  decorate?: (md: Metadata) => void;
  /** Who reads error messages (default `remote`: never names the socket). */
  audience?: 'operator' | 'remote';
  /**
   * Gather the unary calls started in one event-loop turn into one BatchService call
   * (batcher.ts). Only the daemon's gateway doors serve BatchService; default off.
   */
  batch?: boolean;
  /** Told how many calls each BatchService call carries. */
  observeBatch?: (calls: number) => void;
};

const NO_CALL_OPTIONS = Object.freeze({});

function toTokenInfo(t: Token | undefined): TokenInfo {
  return {
    id: t?.id ?? '',
    name: t?.name ?? '',
    scopes: [...(t?.scopes ?? [])],
    role: t?.role ?? '',
    owner: t?.owner ?? '',
    createdAtMs: t?.createdAtMs ?? 0,
    expiresAtMs: t?.expiresAtMs ?? 0,
    revokedAtMs: t?.revokedAtMs ?? 0,
    lastUsedAtMs: t?.lastUsedAtMs ?? 0,
  };
}

function parseDetails(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function toAuditEntry(e: PbAuditEntry): AuditEntryInfo {
  return {
    timestamp: e.timestamp,
    action: e.action,
    user: e.user,
    resource: e.resource,
    details: parseDetails(e.detailsJson),
    ip: e.ip,
    result: e.result,
    reason: e.reason,
    requestId: e.requestId,
    seq: e.seq,
  };
}

export function createDaemonClient(opts: DaemonClientOptions): DaemonClient {
  const ch = { ...channelFor(opts), audience: opts.audience ?? 'remote' };
  // One channel for all services: the clients share the underlying subchannel pool.
  const services = createServices(ch);
  const { system, tokens, health, audit, sessions: sessionService } = services;
  const clients = services.all;
  const decorate = opts.decorate;
  const metadata = decorate
    ? (id: CallIdentity): Metadata => {
        const md = metadataFor(id);
        decorate(md);
        return md;
      }
    : metadataFor;

  // Deadlines on one shared timer, not in the call options (deadlines.ts).
  const deadlines = new Deadlines();
  const batchService = opts.batch ? new BatchServiceClient(ch.address, ch.credentials, ch.options) : undefined;
  const batcher = batchService ? new CallBatcher(batchService, opts.observeBatch) : undefined;
  const invoke: Invoke = <Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, id: CallIdentity, timeoutMs = opts.timeoutMs): Promise<Res> => {
    // A double, not hrtime.bigint(): two BigInts per call were garbage on every request.
    const started = performance.now();
    return new Promise<Res>((resolve, reject) => {
      const pending = deadlines.track(timeoutMs);
      const md = metadata(id);
      const cb = (err: ServiceError | null, res: Res): void => {
        deadlines.done(pending);
        const seconds = (performance.now() - started) / 1000;
        if (err) {
          const le = fromServiceError(pending.expired ? deadlineExceeded() : err, ch, id.subject === undefined);
          opts.observe?.(name, le.code, seconds);
          reject(le);
        } else {
          opts.observe?.(name, 'ok', seconds);
          resolve(res);
        }
      };
      pending.call = batcher ? batcher.call(client, method, req, md, cb) : method.call(client, req, md, NO_CALL_OPTIONS, cb);
    });
  };

  const close = () => {
    deadlines.close();
    for (const c of clients) c.close();
    batchService?.close();
  };
  return {
    sessions: createSessionsClient(sessionService, ch),
    forCaller(id) {
      return createGrpcLokiClient({
        services,
        invoke,
        channel: ch,
        identity: typeof id === 'function' ? id : () => id,
        metadata,
        transport: { kind: 'grpc', target: ch.describe, tls: ch.tcp },
        close,
      });
    },
    listSessions: (o, id) => listSessionsPage(invoke, services, o, id),
    async getStatus(id) {
      return toStatus(await invoke('SystemService/GetStatus', system, system.getStatus, {}, id)).daemon;
    },
    async verifyToken(secret, id) {
      const r = await invoke('TokenService/Verify', tokens, tokens.verify, { secret }, { requestId: id.requestId, ...(id.clientIp ? { clientIp: id.clientIp } : {}) });
      if (!r.valid) return { valid: false, reason: r.reason || 'unknown' };
      return { valid: true, token: toTokenInfo(r.token), subject: r.subject || `token:${r.token?.name ?? ''}` };
    },
    async recordAudit(event, id) {
      await invoke('AuditService/Record', audit, audit.record, {
        action: event.action,
        resource: event.resource,
        detailsJson: JSON.stringify(event.details ?? {}),
        result: event.result,
        reason: event.reason ?? '',
      }, id);
    },
    async queryAudit(q, id) {
      const r = await invoke('AuditService/Query', audit, audit.query, {
        limit: q.limit,
        action: q.action ?? '',
        user: q.user ?? '',
        result: q.result ?? '',
        since: q.since ?? '',
        until: q.until ?? '',
        cursor: q.cursor ?? 0,
      }, id);
      return { entries: r.entries.map(toAuditEntry), nextCursor: r.nextCursor };
    },
    async auditSummary(range, id) {
      const r = await invoke('AuditService/Summary', audit, audit.summary, { since: range.since ?? '', until: range.until ?? '' }, id);
      return { total: r.total, byAction: { ...r.byAction }, byUser: { ...r.byUser }, byResult: { ...r.byResult }, since: r.since, until: r.until };
    },
    async isServing(timeoutMs) {
      try {
        const r = await invoke('Health/Check', health, health.check, { service: '' }, { requestId: 'health' }, timeoutMs);
        if (r.status !== HealthCheckResponse_ServingStatus.SERVING) return false;
        // Over TCP the health service answers any certificate the CA signed; only a
        // gateway-role call proves the daemon accepts this gateway's certificate name.
        // An empty secret is refused as malformed before any lookup, so the probe is cheap.
        if (ch.tcp) await invoke('TokenService/Verify', tokens, tokens.verify, { secret: '' }, { requestId: 'health' }, timeoutMs);
        return true;
      } catch {
        return false;
      }
    },
    close,
  };
}
