// gRPC adapter for loki.v1.AgentService, the small API a session's runner
// speaks on its own socket (grpc-channels.ts): wire messages to the session hooks.
import type { Server, ServerUnaryCall } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import {
  AgentServiceService,
  type AgentDecideRequest,
  type AgentDecideResponse,
  type AgentEvent,
  type AgentHeartbeatRequest,
  type AgentHeartbeatResponse,
  type AgentHelloRequest,
  type AgentReportRequest,
  type AgentReportResponse,
  type SessionBrief,
} from '../../../proto/gen/loki/v1/agent.js';
import type { Caller } from '../authz/caller.js';
import type { ServiceModule } from '../grpc/module.js';
import { unary, type HandlerContext } from '../grpc/wrap.js';
import { toActionRequest, toBriefMessage, toEventData, MAX_EVENTS_PER_REPORT } from './convert.js';
import type { AgentChannelHooks } from './types.js';
import { decisionCodec, enumToWire } from '../grpc/vocab.js';

/** The session id a handler may act for: only ever the listener's, never a request field. */
function sessionOf(caller: Caller): string {
  if (caller.role !== 'agent' || !caller.sessionId) throw new LokiError('permission_denied', 'only a session agent socket serves this API');
  return caller.sessionId;
}

/**
 * AgentService as a ServiceModule. It is registered only on the per-session
 * agent listeners grpc-channels.ts creates (role `agent`), never on admin.sock or
 * gateway.sock: daemon.ts does not mount it on the daemon's own doors.
 */
export function createAgentServiceModule(hooks: AgentChannelHooks): ServiceModule {
  return { name: 'loki.v1.AgentService', roles: ['agent'], register: (server, ctx) => registerAgentService(server, ctx, hooks) };
}

function registerAgentService(server: Server, ctx: HandlerContext, hooks: AgentChannelHooks): void {
  const report = async (sessionId: string, events: AgentEvent[]): Promise<{ stopRequested: boolean }> => {
    if (events.length > MAX_EVENTS_PER_REPORT) {
      throw new LokiError('payload_too_large', `a report may carry at most ${MAX_EVENTS_PER_REPORT} events (got ${events.length})`);
    }
    const res = await hooks.report(sessionId, events.map(toEventData));
    return { stopRequested: res.stopRequested };
  };
  server.addService(AgentServiceService, {
    hello: unary<AgentHelloRequest, SessionBrief>(ctx, 'Agent.Hello', async (req, caller) => {
      const sessionId = sessionOf(caller);
      const version = String(req.runnerVersion ?? '').slice(0, 64);
      const pid = Number.isInteger(req.pid) && req.pid > 0 ? req.pid : 0;
      return toBriefMessage(await hooks.hello(sessionId, { version, pid }));
    }),
    decide: unary<AgentDecideRequest, AgentDecideResponse>(ctx, 'Agent.Decide', async (req, caller, call) => {
      const sessionId = sessionOf(caller);
      // The events first, as their own Report would record them (the trail stays in order): one round trip, not two.
      const reported = req.events?.length
        ? await report(sessionId, req.events).catch((err: unknown) => {
            // Over a quota the events are dropped (a `quota` event says so), as a Report's are; the action is still decided.
            if (err instanceof LokiError && err.kind === 'resource_exhausted') return { stopRequested: false };
            throw err;
          })
        : { stopRequested: false };
      const action = toActionRequest(req);
      // A decision may wait for a human; if the runner goes away (container
      // stopped, call cancelled) the hook must stop waiting rather than leak.
      const ac = new AbortController();
      const onCancel = () => ac.abort();
      (call as ServerUnaryCall<AgentDecideRequest, AgentDecideResponse>).on('cancelled', onCancel);
      try {
        const d = await hooks.decide(sessionId, action, ac.signal);
        return { decision: enumToWire(decisionCodec, d.decision), legacyDecision: d.decision, reason: d.reason, rule: d.rule, approvalId: d.approvalId, stopRequested: reported.stopRequested };
      } finally {
        call.off('cancelled', onCancel);
      }
    }),
    report: unary<AgentReportRequest, AgentReportResponse>(ctx, 'Agent.Report', async (req, caller) => report(sessionOf(caller), req.events ?? [])),
    heartbeat: unary<AgentHeartbeatRequest, AgentHeartbeatResponse>(ctx, 'Agent.Heartbeat', async (req, caller) => {
      const sessionId = sessionOf(caller);
      const iteration = Number.isInteger(req.iteration) && req.iteration >= 0 ? req.iteration : 0;
      return { stopRequested: (await hooks.heartbeat(sessionId, iteration)).stopRequested };
    }),
  });
}
