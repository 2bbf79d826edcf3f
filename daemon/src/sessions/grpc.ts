// gRPC adapter for loki.v1.SessionService: wire messages ↔ domain calls. The
// manager authorizes every call (scope + ownership); this file only converts.
import type { Server } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import {
  SessionServiceService,
  type ListSessionsRequest,
  type ListSessionsResponse,
  type PruneSessionsRequest,
  type PruneSessionsResponse,
  type RemoveSessionResponse,
  type Session as WireSession,
  type SessionEvent as WireEvent,
  type SessionEventsRequest,
  type SessionMetricsRequest,
  type SessionMetricsResponse,
  type SessionRef,
  type SessionServiceServer,
  type StartSessionRequest,
} from '../../../proto/gen/loki/v1/sessions.js';
import type { ServiceModule } from '../grpc/module.js';
import { autonomyCodec, enumFromRequest, enumToWire, providerCodec, sessionStateCodec } from '../grpc/vocab.js';
import { serverStream, unary, writeMessage, type HandlerContext } from '../grpc/wrap.js';
import type { SessionManager } from './manager.js';
import { isTerminal, type Session, type SessionEvent, type StartSessionInput } from './types.js';

export interface SessionsModuleDeps {
  manager: SessionManager;
  clock?: () => number;
}

/** Operational counters only: no owner, prompt, model, project, branch or reason. */
function redactForGateway(w: WireSession): WireSession {
  return { ...w, owner: '', promptSource: '', model: '', projectId: '', branch: '', reason: '', sandboxId: '', profile: '' };
}

export function toWireSession(s: Session, now: number): WireSession {
  const end = isTerminal(s.state) ? s.endedAtMs : now;
  return {
    id: s.id,
    owner: s.owner,
    state: sessionStateCodec.toWire(s.state),
    legacyState: s.state,
    provider: providerCodec.toWire(s.provider),
    legacyProvider: s.provider,
    profile: s.profile,
    autonomy: enumToWire(autonomyCodec, s.autonomy),
    legacyAutonomy: s.autonomy,
    projectId: s.projectId,
    promptSource: s.promptSource,
    model: s.model,
    maxIterations: s.maxIterations,
    sandboxId: s.sandboxId,
    branch: s.branch,
    createdAtMs: s.createdAtMs,
    startedAtMs: s.startedAtMs,
    endedAtMs: s.endedAtMs,
    lastEventAtMs: s.lastEventAtMs,
    iteration: s.iteration,
    agentsActive: s.agentsActive,
    agentsTotal: s.agentsTotal,
    costUsd: s.costUsd,
    inputTokens: s.inputTokens,
    outputTokens: s.outputTokens,
    eventsTotal: s.eventsTotal,
    stopRequested: s.stopRequested,
    reason: s.reason,
    tasks: { pending: s.tasks.pending, inProgress: s.tasks.in_progress, completed: s.tasks.completed, failed: s.tasks.failed },
    tasksReached: { pending: s.tasksReached.pending, inProgress: s.tasksReached.in_progress, completed: s.tasksReached.completed, failed: s.tasksReached.failed },
    decisionsAllow: s.decisions.allow,
    decisionsDeny: s.decisions.deny,
    decisionsAsk: s.decisions.ask,
    uptimeSeconds: s.startedAtMs ? Math.max(0, (end - s.startedAtMs) / 1000) : 0,
    upstream: s.upstream,
    workspaceRemoved: s.workspaceRemovedAtMs > 0,
  };
}

export function toWireEvent(e: SessionEvent): WireEvent {
  return { sessionId: e.sessionId, seq: e.seq, gid: e.gid, timeMs: e.timeMs, type: e.type, message: e.message, dataJson: JSON.stringify(e.data) };
}

export function toStartInput(r: StartSessionRequest): StartSessionInput {
  return {
    prd: r.prd ?? '',
    prompt: r.prompt ?? '',
    provider: enumFromRequest(providerCodec, 'provider', r.provider, r.legacyProvider),
    plan: r.plan ?? '',
    profile: r.profile ?? '',
    autonomy: enumFromRequest(autonomyCodec, 'autonomy mode', r.autonomy, r.legacyAutonomy),
    project: r.project ?? '',
    projectPath: r.projectPath ?? '',
    model: r.model ?? '',
    baseUrl: r.baseUrl ?? '',
    upstream: r.upstream ?? '',
    maxIterations: r.maxIterations ?? 0,
    network: r.network ?? false,
  };
}

function cursor(n: number | undefined, field: string): number {
  const v = n ?? 0;
  if (!Number.isSafeInteger(v) || v < 0) throw new LokiError('invalid_argument', `${field} must be a non-negative integer`);
  return v;
}

export function createSessionsModule(deps: SessionsModuleDeps): ServiceModule {
  const { manager } = deps;
  const now = deps.clock ?? Date.now;
  return {
    name: 'loki.v1.SessionService',
    // The agent role reaches only its own AgentService; never this one.
    roles: ['local-admin', 'gateway'],
    register(server: Server, ctx: HandlerContext) {
      const impl: SessionServiceServer = {
        start: unary<StartSessionRequest, WireSession>(ctx, 'Session.Start', async (req, caller) => toWireSession(await manager.start(caller, toStartInput(req)), now())),
        get: unary<SessionRef, WireSession>(ctx, 'Session.Get', async (req, caller) => toWireSession(await manager.get(caller, req.id ?? ''), now())),
        list: unary<ListSessionsRequest, ListSessionsResponse>(ctx, 'Session.List', async (req, caller) => {
          const all = req.all ?? false;
          const pageSize = req.pageSize ?? 0;
          const pageToken = req.pageToken ?? '';
          // page_size 0 keeps the unpaged answer older clients expect.
          if (pageSize === 0 && pageToken) throw new LokiError('invalid_argument', 'page_token needs page_size (1..500)');
          const page = pageSize === 0 ? { sessions: await manager.list(caller, all), nextPageToken: '' } : await manager.listPage(caller, { all, pageSize, pageToken });
          return { sessions: page.sessions.map((s) => toWireSession(s, now())), nextPageToken: page.nextPageToken };
        }),
        stop: unary<SessionRef, WireSession>(ctx, 'Session.Stop', async (req, caller) => toWireSession(await manager.stop(caller, req.id ?? ''), now())),
        pause: unary<SessionRef, WireSession>(ctx, 'Session.Pause', async (req, caller) => toWireSession(await manager.pause(caller, req.id ?? ''), now())),
        resume: unary<SessionRef, WireSession>(ctx, 'Session.Resume', async (req, caller) => toWireSession(await manager.resume(caller, req.id ?? ''), now())),
        events: serverStream<SessionEventsRequest, WireEvent>(ctx, 'Session.Events', async (req, caller, call, signal) => {
          const q = { sessionId: req.sessionId ?? '', afterSeq: cursor(req.afterSeq, 'after_seq'), afterGid: cursor(req.afterGid, 'after_gid'), follow: req.follow ?? false };
          // writeMessage waits for 'drain': a slow reader holds the loop, it does not grow a buffer.
          for await (const ev of manager.events(caller, q, signal)) await writeMessage(call, toWireEvent(ev));
        }),
        remove: unary<SessionRef, RemoveSessionResponse>(ctx, 'Session.Remove', async (req, caller) => {
          const r = await manager.remove(caller, req.id ?? '');
          return { session: toWireSession(r.session, now()), freedBytes: r.freedBytes };
        }),
        prune: unary<PruneSessionsRequest, PruneSessionsResponse>(ctx, 'Session.Prune', async (req, caller) => {
          const secs = cursor(req.olderThanSeconds, 'older_than_seconds');
          if (secs > 100 * 365 * 86_400) throw new LokiError('invalid_argument', 'older_than_seconds must be at most 100 years');
          const r = await manager.prune(caller, secs * 1000, req.dryRun ?? false);
          return { removed: r.removed, freedBytes: r.freedBytes };
        }),
        metrics: unary<SessionMetricsRequest, SessionMetricsResponse>(ctx, 'Session.Metrics', async (_req, caller) => {
          const m = await manager.metrics(caller);
          const t = now();
          return {
            // The gateway asking for itself (its /metrics, no user credential) gets the
            // numbers, not who owns what or what they asked for.
            sessions: m.sessions.map((s) => (caller.unverified ? redactForGateway(toWireSession(s, t)) : toWireSession(s, t))),
            active: m.active,
            createdTotal: m.createdTotal,
            decisionsAllow: m.decisions.allow,
            decisionsDeny: m.decisions.deny,
            decisionsAsk: m.decisions.ask,
            approvalsPending: m.approvalsPending,
          };
        }),
      };
      server.addService(SessionServiceService, impl);
    },
  };
}
