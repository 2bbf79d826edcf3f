// SessionService (agent sessions) for the gateway: start/stop/pause/resume,
// reads, metrics and the event stream the SSE routes relay. Generated messages
// stay here; callers see the domain types below.
import type { ServiceError } from '@grpc/grpc-js';
import { GRPC_STATUS, type LokiError } from '../../../common/src/index.js';
import {
  StartSessionRequest,
  type SessionServiceClient,
  type Session as PbSession,
  type SessionEvent as PbSessionEvent,
} from '../../../proto/gen/loki/v1/sessions.js';
import { fromServiceError, metadataFor, type CallIdentity, type Channel, type Invoke } from './daemon-client-wire.js';

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
  upstream: string;
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
  workspaceRemoved: boolean;
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
  upstream?: string;
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
  /** One page (page_size 1..500); `nextPageToken` empty on the last. */
  listPage(q: { all: boolean; pageSize: number; pageToken: string }, id: CallIdentity): Promise<{ sessions: SessionInfo[]; nextPageToken: string }>;
  stop(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  pause(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  resume(sessionId: string, id: CallIdentity): Promise<SessionInfo>;
  metrics(id: CallIdentity): Promise<SessionMetricsInfo>;
  /** Removes an ended session's workspace and container. */
  remove(sessionId: string, id: CallIdentity): Promise<{ session: SessionInfo; freedBytes: number }>;
  prune(q: { olderThanSeconds: number; dryRun: boolean }, id: CallIdentity): Promise<{ removed: string[]; freedBytes: number }>;
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
    upstream: s?.upstream ?? '',
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
    workspaceRemoved: s?.workspaceRemoved ?? false,
    tasks: { pending: s?.tasks?.pending ?? 0, inProgress: s?.tasks?.inProgress ?? 0, completed: s?.tasks?.completed ?? 0, failed: s?.tasks?.failed ?? 0 },
    tasksReached: { pending: s?.tasksReached?.pending ?? 0, inProgress: s?.tasksReached?.inProgress ?? 0, completed: s?.tasksReached?.completed ?? 0, failed: s?.tasksReached?.failed ?? 0 },
    decisions: { allow: s?.decisionsAllow ?? 0, deny: s?.decisionsDeny ?? 0, ask: s?.decisionsAsk ?? 0 },
    uptimeSeconds: s?.uptimeSeconds ?? 0,
  };
}

export function createSessionsClient(c: SessionServiceClient, invoke: Invoke, channel: Channel): SessionsClient {
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
        upstream: i.upstream ?? '',
        maxIterations: i.maxIterations ?? 0,
        network: i.network ?? false,
      });
      return toSessionInfo(await invoke('SessionService/Start', c, c.start, req, id, SLOW_MS));
    },
    async get(sessionId, id) {
      return toSessionInfo(await invoke('SessionService/Get', c, c.get, { id: sessionId }, id));
    },
    async list(all, id) {
      return (await invoke('SessionService/List', c, c.list, { all, pageSize: 0, pageToken: '' }, id)).sessions.map(toSessionInfo);
    },
    async listPage(q, id) {
      const r = await invoke('SessionService/List', c, c.list, q, id);
      return { sessions: r.sessions.map(toSessionInfo), nextPageToken: r.nextPageToken };
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
    async remove(sessionId, id) {
      const r = await invoke('SessionService/Remove', c, c.remove, { id: sessionId }, id, SLOW_MS);
      return { session: toSessionInfo(r.session), freedBytes: r.freedBytes };
    },
    async prune(q, id) {
      const r = await invoke('SessionService/Prune', c, c.prune, q, id, 600_000);
      return { removed: r.removed, freedBytes: r.freedBytes };
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
        h.onError(fromServiceError(err, channel));
      });
      return { pause: () => call.pause(), resume: () => call.resume(), cancel: () => call.cancel() };
    },
  };
}
