// Agent sessions over HTTP: GET /api/sessions, /api/sessions/:id,
// /api/sessions/:id/events (SSE) and /api/events (SSE, every session the caller
// may see). Owner-scoped: the daemon filters by the forwarded subject unless
// the caller holds `*`; an unknown and a not-yours session both answer 404.
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Session } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { SESSION_ID_PATTERN } from '../../../common/src/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { SessionHubs, sessionEventFrame, type SessionHubOptions } from './session-hub.js';
import { MAX_SAFE, cursorField, intField, intHeader, intParam } from './schemas.js';
import { endOnCredentialLost, errorFrame } from './sse.js';

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

const count = { type: 'integer' };
/** The response schema of a session: the client's domain `Session` (client/src/types.ts), converted in client/src/grpc/convert.ts. */
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
      if (!closed) out.write(errorFrame(err, req.id, 'session'));
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
  endOnCredentialLost(req, out, finish, 'session');
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
  // Leaving the hub ends only this subscriber; the hub reopens its upstream with another's credential if needed.
  endOnCredentialLost(req, out, finish, 'session');
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

  // Paged (keyset in the daemon): `limit` 1..500, default 100; follow `next_page_token` until it is null.
  app.get<{ Querystring: { all?: boolean; limit: number; page_token?: string } }>(
    '/api/sessions',
    {
      config: { access: READ_OWNED },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            all: { type: 'boolean' },
            limit: { ...intField(1, 500), default: 100, description: 'sessions per page, oldest first' },
            page_token: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9_-]*$', description: 'next_page_token of the previous page, unchanged, with the same all' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { sessions: { type: 'array', items: sessionDtoSchema }, next_page_token: { type: ['string', 'null'], description: 'pass as page_token for the next page; null on the last' } },
          },
        },
      },
    },
    // Not async: the daemon call's promise is the handler's (a throw here is answered like a rejection).
    (req) => {
      const limit = intParam(req.query.limit, 'querystring/limit', 1, 500) ?? 100;
      return daemon.listSessions({ all: req.query.all === true, limit, page_token: req.query.page_token ?? '' }, callIdentity(req));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/sessions/:id',
    { config: { access: READ_OWNED }, schema: { params: idParams, response: { 200: sessionDtoSchema } } },
    async (req): Promise<Session> => daemon.forCaller(callIdentity(req)).sessions.get(req.params.id),
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
      await daemon.forCaller(callIdentity(req)).sessions.get(req.params.id);
      return sse(req, reply, opts, { sessionId: req.params.id, after, follow: req.query.follow }, req.query.follow ? hubs : undefined);
    },
  );

  app.get<{ Querystring: { after?: number; follow: boolean } }>(
    '/api/events',
    { config: { access: READ_STREAM }, schema: { querystring: eventsQuery } },
    async (req, reply) => sse(req, reply, opts, { sessionId: '', after: lastEventId(req, req.query.after), follow: req.query.follow }),
  );
}
