// Agent sessions over HTTP: GET /api/sessions, /api/sessions/:id,
// /api/sessions/:id/events (SSE) and /api/events (SSE, every session the caller
// may see). Owner-scoped: the daemon filters by the forwarded subject unless
// the caller holds `*`; an unknown and a not-yours session both answer 404.
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DaemonClient, SessionInfo } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { SessionHubs, sessionEventFrame, type SessionHubOptions } from './session-hub.js';
import { MAX_SAFE, cursorField, intHeader, intParam } from './schemas.js';

export const SESSION_ID_PATTERN = '^ses-[0-9a-f]{12}$';

export interface SessionRouteOptions {
  daemon: DaemonClient;
  /** SSE comment line interval (default 15 s). */
  heartbeatMs?: number;
  /** A client that has not drained its socket for this long is disconnected (default 30 s). */
  slowClientMs?: number;
  /** Ring size and buffer caps of the SSE hubs (defaults in session-hub.ts). */
  hub?: Omit<SessionHubOptions, 'onSlow'>;
  /** Receives the route group's SSE hubs (tests look at their subscriber counts). */
  onHubs?: (hubs: SessionHubs) => void;
}

export interface SessionDto {
  id: string;
  state: string;
  owner: string;
  provider: string;
  profile: string;
  autonomy: string | null;
  project_id: string;
  prd: string;
  model: string | null;
  upstream: string | null;
  branch: string;
  sandbox_id: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  uptime_seconds: number;
  iteration: number;
  max_iterations: number;
  tasks: { pending: number; in_progress: number; completed: number; failed: number };
  tasks_reached: { pending: number; in_progress: number; completed: number; failed: number };
  agents: { active: number; total: number };
  cost_usd: number;
  tokens: { input: number; output: number };
  events_total: number;
  decisions: { allow: number; deny: number; ask: number };
  stop_requested: boolean;
  reason: string | null;
  workspace_removed: boolean;
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

export function toSessionDto(s: SessionInfo): SessionDto {
  return {
    id: s.id,
    state: s.state,
    owner: s.owner,
    provider: s.provider,
    profile: s.profile,
    autonomy: s.autonomy || null,
    project_id: s.projectId,
    prd: s.promptSource,
    model: s.model || null,
    upstream: s.upstream || null,
    branch: s.branch,
    sandbox_id: s.sandboxId || null,
    created_at: iso(s.createdAtMs) ?? '',
    started_at: iso(s.startedAtMs),
    ended_at: iso(s.endedAtMs),
    uptime_seconds: Math.round(s.uptimeSeconds),
    iteration: s.iteration,
    max_iterations: s.maxIterations,
    tasks: { pending: s.tasks.pending, in_progress: s.tasks.inProgress, completed: s.tasks.completed, failed: s.tasks.failed },
    tasks_reached: { pending: s.tasksReached.pending, in_progress: s.tasksReached.inProgress, completed: s.tasksReached.completed, failed: s.tasksReached.failed },
    agents: { active: s.agentsActive, total: s.agentsTotal },
    cost_usd: s.costUsd,
    tokens: { input: s.inputTokens, output: s.outputTokens },
    events_total: s.eventsTotal,
    decisions: { ...s.decisions },
    stop_requested: s.stopRequested,
    reason: s.reason || null,
    workspace_removed: s.workspaceRemoved,
  };
}

const count = { type: 'integer' };
export const sessionDtoSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string' },
    owner: { type: 'string' },
    provider: { type: 'string' },
    profile: { type: 'string' },
    autonomy: { type: ['string', 'null'] },
    project_id: { type: 'string' },
    prd: { type: 'string' },
    model: { type: ['string', 'null'] },
    upstream: { type: ['string', 'null'] },
    branch: { type: 'string' },
    sandbox_id: { type: ['string', 'null'] },
    created_at: { type: 'string' },
    started_at: { type: ['string', 'null'] },
    ended_at: { type: ['string', 'null'] },
    uptime_seconds: count,
    iteration: count,
    max_iterations: count,
    tasks: { type: 'object', properties: { pending: count, in_progress: count, completed: count, failed: count } },
    tasks_reached: { type: 'object', properties: { pending: count, in_progress: count, completed: count, failed: count } },
    agents: { type: 'object', properties: { active: count, total: count } },
    cost_usd: { type: 'number' },
    tokens: { type: 'object', properties: { input: count, output: count } },
    events_total: count,
    decisions: { type: 'object', properties: { allow: count, deny: count, ask: count } },
    stop_requested: { type: 'boolean' },
    reason: { type: ['string', 'null'] },
    workspace_removed: { type: 'boolean' },
  },
} as const;

const READ_OWNED: RouteAccess = { scope: 'read', owner: true };
// SSE streams stay open for minutes: capped per subject, outside the concurrency slots.
const READ_STREAM: RouteAccess = { ...READ_OWNED, stream: true };

function lastEventId(req: FastifyRequest, fallback: number | undefined): number {
  return intHeader(req.headers['last-event-id'], 'Last-Event-ID', 0, MAX_SAFE) ?? intParam(fallback, 'querystring/after', 0, MAX_SAFE) ?? 0;
}

/**
 * Streams events as SSE. Back-pressure: when the response buffer is full the
 * gRPC stream is paused (the daemon then waits on its own write), and a client
 * that does not drain within `slowClientMs` is disconnected; it can resume with
 * Last-Event-ID without losing anything.
 */
function sse(req: FastifyRequest, reply: FastifyReply, o: SessionRouteOptions, q: { sessionId: string; after: number; follow: boolean }, hubs?: SessionHubs): FastifyReply {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  if (hubs) return hubSse(req, reply, o, out, hubs.subscribe(q.sessionId, q.after, callIdentity(req), out));
  const byGid = !q.sessionId;
  let slowTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const stream = o.daemon.sessions.events({ sessionId: q.sessionId, afterSeq: byGid ? 0 : q.after, afterGid: byGid ? q.after : 0, follow: q.follow }, callIdentity(req), {
    onEvent(e) {
      if (closed) return;
      if (!out.write(sessionEventFrame(e, byGid ? e.gid : e.seq))) {
        stream.pause();
        slowTimer ??= setTimeout(() => {
          req.log.info({ session_id: q.sessionId || undefined }, 'closing a slow SSE client');
          finish();
        }, o.slowClientMs ?? 30_000);
      }
    },
    onEnd: () => finish(),
    onError(err) {
      if (!closed) out.write(`event: error\ndata: ${JSON.stringify({ code: err.code, message: err.message })}\n\n`);
      finish();
    },
  });
  out.on('drain', () => {
    if (slowTimer) clearTimeout(slowTimer);
    slowTimer = undefined;
    stream.resume();
  });
  const beat = setInterval(() => {
    if (out.writableLength === 0) out.write(': heartbeat\n\n');
  }, o.heartbeatMs ?? 15_000);
  function finish(): void {
    if (closed) return;
    closed = true;
    clearInterval(beat);
    if (slowTimer) clearTimeout(slowTimer);
    stream.cancel();
    out.end();
  }
  req.raw.on('close', finish);
  return sendStream(reply, out);
}

/** One followed session's SSE through the shared hub (session-hub.ts): the hub writes frames and ends `out`; this side keeps the heartbeat. */
function hubSse(req: FastifyRequest, reply: FastifyReply, o: SessionRouteOptions, out: PassThrough, leave: () => void): FastifyReply {
  const beat = setInterval(() => {
    if (out.writableLength === 0 && !out.writableEnded && !out.destroyed) out.write(': heartbeat\n\n');
  }, o.heartbeatMs ?? 15_000);
  const finish = () => {
    clearInterval(beat);
    leave();
    if (!out.writableEnded && !out.destroyed) out.end();
  };
  out.on('finish', finish);
  out.on('close', finish);
  req.raw.on('close', finish);
  return sendStream(reply, out);
}

function sendStream(reply: FastifyReply, out: PassThrough): FastifyReply {
  out.write('retry: 3000\n\n');
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    .header('x-accel-buffering', 'no')
    .send(out);
}

export async function sessionRoutes(app: FastifyInstance, opts: SessionRouteOptions): Promise<void> {
  const { daemon } = opts;
  // Followers of one session share one daemon stream (session-hub.ts); each is authorized below with its own credential.
  const hubs = new SessionHubs(daemon, { ...(opts.slowClientMs === undefined ? {} : { slowClientMs: opts.slowClientMs }), ...opts.hub, onSlow: (id) => app.log.info({ session_id: id }, 'closing a slow SSE client') });
  opts.onHubs?.(hubs);
  app.addHook('onClose', async () => hubs.closeAll());
  const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: SESSION_ID_PATTERN } } } as const;

  app.get<{ Querystring: { all?: boolean } }>(
    '/api/sessions',
    {
      config: { access: READ_OWNED },
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
        response: { 200: { type: 'object', properties: { sessions: { type: 'array', items: sessionDtoSchema } } } },
      },
    },
    async (req) => ({ sessions: (await daemon.sessions.list(req.query.all === true, callIdentity(req))).map(toSessionDto) }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/sessions/:id',
    { config: { access: READ_OWNED }, schema: { params: idParams, response: { 200: sessionDtoSchema } } },
    async (req) => toSessionDto(await daemon.sessions.get(req.params.id, callIdentity(req))),
  );

  const eventsQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { after: cursorField, follow: { type: 'boolean', default: true } },
  } as const;

  app.get<{ Params: { id: string }; Querystring: { after?: number; follow: boolean } }>(
    '/api/sessions/:id/events',
    { config: { access: READ_STREAM }, schema: { params: idParams, querystring: eventsQuery } },
    async (req, reply) => {
      const after = lastEventId(req, req.query.after);
      // Resolve ownership before the 200 goes out, so a foreign id is a plain 404.
      await daemon.sessions.get(req.params.id, callIdentity(req));
      return sse(req, reply, opts, { sessionId: req.params.id, after, follow: req.query.follow }, req.query.follow ? hubs : undefined);
    },
  );

  app.get<{ Querystring: { after?: number; follow: boolean } }>(
    '/api/events',
    { config: { access: READ_STREAM }, schema: { querystring: eventsQuery } },
    async (req, reply) => sse(req, reply, opts, { sessionId: '', after: lastEventId(req, req.query.after), follow: req.query.follow }),
  );
}
