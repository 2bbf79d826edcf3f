// The gateway's only road to the daemon: gRPC over the daemon's gateway socket.
// Every call forwards the end user's identity as metadata (the daemon trusts it
// only on this socket and re-checks scope and ownership itself). Generated
// messages stay in this file; the rest of the gateway sees domain types.
import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import {
  GRPC_STATUS,
  LokiError,
  isErrorCode,
  kindFromGrpcStatus,
  type ErrorCode,
} from '../../common/src/index.js';
import { HealthClient, HealthCheckResponse_ServingStatus } from '../../proto/gen/grpc/health/v1/health.js';
import { AuditServiceClient, type AuditEntry as PbAuditEntry } from '../../proto/gen/loki/v1/audit.js';
import { SystemServiceClient, type GetStatusResponse } from '../../proto/gen/loki/v1/system.js';
import { TokenServiceClient, type Token } from '../../proto/gen/loki/v1/tokens.js';
import {
  SessionServiceClient,
  StartSessionRequest,
  type Session as PbSession,
  type SessionEvent as PbSessionEvent,
} from '../../proto/gen/loki/v1/sessions.js';

/** Who the daemon should think is calling; omitted subject = the gateway itself (e.g. token verification). */
export interface CallIdentity {
  requestId: string;
  subject?: string;
  scopes?: readonly string[];
  /** `token:<name>` | `oidc:<sub>` | `none` */
  auth?: string;
  clientIp?: string;
}

export interface DaemonStatus {
  version: string;
  startedAtMs: number;
  uptimeSeconds: number;
  dockerReachable: boolean;
  dockerVersion: string;
  baseImagePresent: boolean;
  baseImage: string;
  sandboxes: { running: number; paused: number; exited: number; total: number };
}

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

export interface GenerateTokenInput {
  name: string;
  scopes: string[];
  role: string;
  /** 0 = the daemon's default; -1 = never expires. */
  expiresDays: number;
}

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
  generateToken(input: GenerateTokenInput, id: CallIdentity): Promise<{ token: TokenInfo; secret: string }>;
  listTokens(all: boolean, id: CallIdentity): Promise<TokenInfo[]>;
  revokeToken(nameOrId: string, id: CallIdentity): Promise<TokenInfo>;
  /** Gateway-observed events; the daemon stamps user, ip and request id from the forwarded identity. */
  recordAudit(event: AuditRecordInput, id: CallIdentity): Promise<void>;
  queryAudit(q: AuditQueryInput, id: CallIdentity): Promise<{ entries: AuditEntryInfo[]; nextCursor: number }>;
  auditSummary(range: { since?: string; until?: string }, id: CallIdentity): Promise<AuditSummaryInfo>;
  /** True when the daemon answers grpc.health.v1 Check with SERVING. Never throws. */
  isServing(timeoutMs: number): Promise<boolean>;
  /** SessionService (agent sessions); see the end of this file. */
  readonly sessions: SessionsClient;
  close(): void;
}

/** Observes each call's latency; the metrics module supplies it. */
export type CallObserver = (method: string, code: string, seconds: number) => void;

export interface DaemonClientOptions {
  socketPath: string;
  timeoutMs: number;
  observe?: CallObserver;
}

/** Turns a gRPC error from the daemon back into the LokiError it was (code travels in `x-loki-error-code`). */
export function fromServiceError(err: unknown, socketPath: string): LokiError {
  if (err instanceof LokiError) return err;
  const se = err as Partial<ServiceError>;
  const codeMd = se.metadata?.get('x-loki-error-code')[0];
  if (typeof codeMd === 'string' && isErrorCode(codeMd)) return new LokiError(codeMd, se.details ?? codeMd);
  if (se.code === GRPC_STATUS.UNAVAILABLE || se.code === GRPC_STATUS.DEADLINE_EXCEEDED) {
    // The socket path is operator information; the HTTP client only learns that the daemon is down.
    const why = existsSync(socketPath) ? 'not answering' : 'not running';
    return new LokiError('daemon_unavailable', `the Loki daemon is ${why}`);
  }
  if (se.code === GRPC_STATUS.UNIMPLEMENTED) return new LokiError('unavailable', 'the daemon does not serve this API yet');
  const kind = typeof se.code === 'number' ? kindFromGrpcStatus(se.code) : 'internal';
  const code: ErrorCode = kind;
  return new LokiError(code, kind === 'internal' ? 'daemon call failed' : (se.details ?? 'daemon call failed'), { cause: err });
}

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

function toStatus(r: GetStatusResponse): DaemonStatus {
  const s = r.sandboxes;
  return {
    version: r.version,
    startedAtMs: r.startedAtMs,
    uptimeSeconds: r.uptimeSeconds,
    dockerReachable: r.dockerReachable,
    dockerVersion: r.dockerVersion,
    baseImagePresent: r.baseImagePresent,
    baseImage: r.baseImage,
    sandboxes: { running: s?.running ?? 0, paused: s?.paused ?? 0, exited: s?.exited ?? 0, total: s?.total ?? 0 },
  };
}

// Metadata values must be printable ASCII; the daemon drops anything else.
const SAFE = /^[\x20-\x7e]{1,256}$/;

function metadataFor(id: CallIdentity): Metadata {
  const md = new Metadata();
  const set = (k: string, v: string | undefined) => {
    if (v !== undefined && SAFE.test(v)) md.set(k, v);
  };
  set('x-loki-request-id', id.requestId);
  set('x-loki-subject', id.subject);
  if (id.subject) set('x-loki-scopes', (id.scopes ?? []).join(','));
  set('x-loki-auth', id.auth);
  set('x-loki-client-ip', id.clientIp);
  return md;
}

type Unary<Req, Res> = (req: Req, md: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export function createDaemonClient(opts: DaemonClientOptions): DaemonClient {
  const address = `unix:${opts.socketPath}`;
  const channelOptions = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
  const system = new SystemServiceClient(address, credentials.createInsecure(), channelOptions);
  // One channel for all services: the clients share the underlying subchannel pool.
  const tokens = new TokenServiceClient(address, credentials.createInsecure(), channelOptions);
  const health = new HealthClient(address, credentials.createInsecure(), channelOptions);
  const audit = new AuditServiceClient(address, credentials.createInsecure(), channelOptions);
  const sessionService = new SessionServiceClient(address, credentials.createInsecure(), channelOptions);
  const clients: Client[] = [system, tokens, health, audit, sessionService];

  function invoke<Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, id: CallIdentity, timeoutMs = opts.timeoutMs): Promise<Res> {
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      method.call(client, req, metadataFor(id), { deadline: Date.now() + timeoutMs }, (err, res) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (err) {
          const le = fromServiceError(err, opts.socketPath);
          opts.observe?.(name, le.code, seconds);
          reject(le);
        } else {
          opts.observe?.(name, 'ok', seconds);
          resolve(res);
        }
      });
    });
  }

  return {
    sessions: createSessionsClient(sessionService, invoke, opts.socketPath),
    async getStatus(id) {
      return toStatus(await invoke('SystemService/GetStatus', system, system.getStatus, {}, id));
    },
    async verifyToken(secret, id) {
      const r = await invoke('TokenService/Verify', tokens, tokens.verify, { secret }, { requestId: id.requestId, ...(id.clientIp ? { clientIp: id.clientIp } : {}) });
      if (!r.valid) return { valid: false, reason: r.reason || 'unknown' };
      return { valid: true, token: toTokenInfo(r.token), subject: r.subject || `token:${r.token?.name ?? ''}` };
    },
    async generateToken(input, id) {
      const r = await invoke('TokenService/Generate', tokens, tokens.generate, {
        name: input.name,
        scopes: input.scopes,
        role: input.role,
        expiresDays: input.expiresDays,
      }, id);
      return { token: toTokenInfo(r.token), secret: r.secret };
    },
    async listTokens(all, id) {
      const r = await invoke('TokenService/List', tokens, tokens.list, { all }, id);
      return r.tokens.map(toTokenInfo);
    },
    async revokeToken(nameOrId, id) {
      const r = await invoke('TokenService/Revoke', tokens, tokens.revoke, { nameOrId }, id);
      return toTokenInfo(r.token);
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
        return r.status === HealthCheckResponse_ServingStatus.SERVING;
      } catch {
        return false;
      }
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}

// ---- SessionService (agent sessions) -------------------------------------

export interface SessionInfo {
  id: string;
  owner: string;
  state: string;
  provider: string;
  profile: string;
  autonomy: string;
  projectId: string;
  promptSource: string;
  model: string;
  maxIterations: number;
  sandboxId: string;
  branch: string;
  createdAtMs: number;
  startedAtMs: number;
  endedAtMs: number;
  lastEventAtMs: number;
  iteration: number;
  agentsActive: number;
  agentsTotal: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  eventsTotal: number;
  stopRequested: boolean;
  reason: string;
  tasks: { pending: number; inProgress: number; completed: number; failed: number };
  /** Tasks that ever reached each status (monotonic). */
  tasksReached: { pending: number; inProgress: number; completed: number; failed: number };
  decisions: { allow: number; deny: number; ask: number };
  uptimeSeconds: number;
}

export interface SessionEventInfo {
  sessionId: string;
  seq: number;
  gid: number;
  timeMs: number;
  type: string;
  message: string;
  dataJson: string;
}

export interface StartSessionInput {
  prd?: string;
  prompt?: string;
  provider?: string;
  plan?: string;
  profile?: string;
  autonomy?: string;
  project?: string;
  model?: string;
  baseUrl?: string;
  maxIterations?: number;
  network?: boolean;
}

export interface SessionMetricsInfo {
  sessions: SessionInfo[];
  active: number;
  createdTotal: number;
  decisions: { allow: number; deny: number; ask: number };
  approvalsPending: number;
}

export interface SessionEventHandlers {
  onEvent(e: SessionEventInfo): void;
  onEnd(): void;
  onError(err: LokiError): void;
}

/** Flow control of a running event stream (the SSE route pauses it while the socket is not draining). */
export interface SessionEventStream {
  pause(): void;
  resume(): void;
  cancel(): void;
}

export interface SessionsClient {
  start(input: StartSessionInput, id: CallIdentity): Promise<SessionInfo>;
  get(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  list(all: boolean, id: CallIdentity): Promise<SessionInfo[]>;
  stop(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  pause(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  resume(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  metrics(id: CallIdentity): Promise<SessionMetricsInfo>;
  /** Empty sessionId = every session the caller may see (cursor `afterGid`). */
  events(q: { sessionId: string; afterSeq: number; afterGid: number; follow: boolean }, id: CallIdentity, h: SessionEventHandlers): SessionEventStream;
}

function toSessionInfo(s: PbSession | undefined): SessionInfo {
  return {
    id: s?.id ?? '',
    owner: s?.owner ?? '',
    state: s?.state ?? '',
    provider: s?.provider ?? '',
    profile: s?.profile ?? '',
    autonomy: s?.autonomy ?? '',
    projectId: s?.projectId ?? '',
    promptSource: s?.promptSource ?? '',
    model: s?.model ?? '',
    maxIterations: s?.maxIterations ?? 0,
    sandboxId: s?.sandboxId ?? '',
    branch: s?.branch ?? '',
    createdAtMs: s?.createdAtMs ?? 0,
    startedAtMs: s?.startedAtMs ?? 0,
    endedAtMs: s?.endedAtMs ?? 0,
    lastEventAtMs: s?.lastEventAtMs ?? 0,
    iteration: s?.iteration ?? 0,
    agentsActive: s?.agentsActive ?? 0,
    agentsTotal: s?.agentsTotal ?? 0,
    costUsd: s?.costUsd ?? 0,
    inputTokens: s?.inputTokens ?? 0,
    outputTokens: s?.outputTokens ?? 0,
    eventsTotal: s?.eventsTotal ?? 0,
    stopRequested: s?.stopRequested ?? false,
    reason: s?.reason ?? '',
    tasks: { pending: s?.tasks?.pending ?? 0, inProgress: s?.tasks?.inProgress ?? 0, completed: s?.tasks?.completed ?? 0, failed: s?.tasks?.failed ?? 0 },
    tasksReached: { pending: s?.tasksReached?.pending ?? 0, inProgress: s?.tasksReached?.inProgress ?? 0, completed: s?.tasksReached?.completed ?? 0, failed: s?.tasksReached?.failed ?? 0 },
    decisions: { allow: s?.decisionsAllow ?? 0, deny: s?.decisionsDeny ?? 0, ask: s?.decisionsAsk ?? 0 },
    uptimeSeconds: s?.uptimeSeconds ?? 0,
  };
}

type Invoke = <Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, id: CallIdentity, timeoutMs?: number) => Promise<Res>;

function createSessionsClient(c: SessionServiceClient, invoke: Invoke, socketPath: string): SessionsClient {
  // Starting and stopping wait on Docker and git; give them longer than a plain read.
  const SLOW_MS = 120_000;
  return {
    async start(i, id) {
      const req = StartSessionRequest.fromPartial({
        prd: i.prd ?? '',
        prompt: i.prompt ?? '',
        provider: i.provider ?? '',
        plan: i.plan ?? '',
        profile: i.profile ?? '',
        autonomy: i.autonomy ?? '',
        project: i.project ?? '',
        model: i.model ?? '',
        baseUrl: i.baseUrl ?? '',
        maxIterations: i.maxIterations ?? 0,
        network: i.network ?? false,
      });
      return toSessionInfo(await invoke('SessionService/Start', c, c.start, req, id, SLOW_MS));
    },
    async get(sessionId, id) {
      return toSessionInfo(await invoke('SessionService/Get', c, c.get, { id: sessionId }, id));
    },
    async list(all, id) {
      return (await invoke('SessionService/List', c, c.list, { all }, id)).sessions.map(toSessionInfo);
    },
    async stop(sessionId, id) {
      return toSessionInfo(await invoke('SessionService/Stop', c, c.stop, { id: sessionId }, id, SLOW_MS));
    },
    async pause(sessionId, id) {
      return toSessionInfo(await invoke('SessionService/Pause', c, c.pause, { id: sessionId }, id, SLOW_MS));
    },
    async resume(sessionId, id) {
      return toSessionInfo(await invoke('SessionService/Resume', c, c.resume, { id: sessionId }, id, SLOW_MS));
    },
    async metrics(id) {
      const r = await invoke('SessionService/Metrics', c, c.metrics, {}, id);
      return {
        sessions: r.sessions.map(toSessionInfo),
        active: r.active,
        createdTotal: r.createdTotal,
        decisions: { allow: r.decisionsAllow, deny: r.decisionsDeny, ask: r.decisionsAsk },
        approvalsPending: r.approvalsPending,
      };
    },
    events(q, id, h) {
      const call = c.events({ sessionId: q.sessionId, afterSeq: q.afterSeq, afterGid: q.afterGid, follow: q.follow }, metadataFor(id));
      call.on('data', (e: PbSessionEvent) => h.onEvent({ ...e }));
      call.on('end', () => h.onEnd());
      call.on('error', (err: unknown) => {
        // A cancel from our side is not an error anyone needs to see.
        if ((err as Partial<ServiceError>).code === GRPC_STATUS.CANCELLED) return;
        h.onError(fromServiceError(err, socketPath));
      });
      return { pause: () => call.pause(), resume: () => call.resume(), cancel: () => call.cancel() };
    },
  };
}
