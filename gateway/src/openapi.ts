// OpenAPI 3.1 from the routes themselves: every route already declares its JSON
// schema and its access (scope, owner, stream) in one place, so the document is
// collected at registration and can never drift from what the gateway serves.
// Served at GET /openapi.json (read scope); docs/api.md is rendered from it.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { VERSION } from '../../common/src/index.js';
import type { RouteAccess } from './routes/access.js';

type Json = Record<string, unknown>;

declare module 'fastify' {
  interface FastifySchema {
    /** One line for /openapi.json and docs/api.md. */
    summary?: string;
    description?: string;
  }
}

export interface CollectedRoute {
  method: string;
  url: string;
  access: RouteAccess;
  schema: Json;
  websocket: boolean;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  components: Json;
  paths: Record<string, Record<string, Json>>;
  tags: { name: string; description: string }[];
}

const TAGS: Record<string, string> = {
  health: 'Liveness and readiness probes (no credentials).',
  auth: 'Browser sign-in (OIDC) and short-lived stream tickets.',
  status: 'Daemon and gateway status, metrics, this document.',
  sessions: 'Agent sessions: list, inspect, events, diff, patch, trail.',
  control: 'Loki Mode control API: start, stop, pause, resume a session.',
  approvals: 'Actions waiting for a human: list, show, approve, reject, watch.',
  sandboxes: 'Hardened sandbox containers: lifecycle, logs, exec and shell over WebSocket.',
  projects: 'Git repositories the daemon may clone into session workspaces.',
  policy: 'The policy engine: check or explain a command, show the active profiles.',
  enterprise: 'Tokens (admin) and the audit log (audit scope).',
};

export function tagOf(url: string): string {
  if (/^\/(health|healthz)/.test(url)) return 'health';
  if (/^\/auth\/|^\/api\/auth\//.test(url)) return 'auth';
  const m = /^\/api\/([a-z]+)/.exec(url);
  if (m && m[1] === 'events') return 'sessions';
  if (m && m[1] && TAGS[m[1]]) return m[1];
  return 'status';
}

// One-line summaries for routes whose schema does not carry its own (the
// older route groups, the OIDC plugin); new routes put `summary` in their schema.
const SUMMARIES: Record<string, string> = {
  'GET /health': 'Liveness, Loki Mode compatible ({"status":"ok"})',
  'GET /healthz/live': 'The process is up',
  'GET /healthz/ready': 'Ready to serve: 503 while the daemon is unreachable or the gateway is saturated',
  'GET /auth/oidc/login': 'Browser sign-in: redirect to the OIDC provider',
  'GET /auth/oidc/callback': 'OIDC redirect target: sets the session cookie',
  'GET /auth/logout': 'Clear the session cookie (and log out at the provider when it supports it)',
  'GET /api/status': 'Daemon and gateway status, and who the caller is',
  'GET /metrics': 'Prometheus metrics (absent here when metrics.listen moves them to a private listener)',
  'GET /api/sessions': 'List sessions (active ones unless all=true)',
  'GET /api/sessions/:id': 'Show one session',
  'GET /api/sessions/:id/events': "One session's events on SSE; resume with Last-Event-ID (the event seq) or ?after=",
  'GET /api/events': "Every visible session's events on SSE; resume with Last-Event-ID (the global gid) or ?after=",
  'POST /api/control/start': 'Start a session (a PRD path or an inline prompt)',
  'POST /api/control/stop': 'Emergency stop of a session (never rate limited); without session_id: the only active one',
  'POST /api/control/pause': 'Pause a session; without session_id: the only active one',
  'POST /api/control/resume': 'Resume a paused session, or approve a pending staged-autonomy checkpoint (Loki Mode)',
  'GET /api/enterprise/tokens': 'List API tokens (never their secrets)',
  'POST /api/enterprise/tokens': 'Create an API token (the secret is in this response only)',
  'DELETE /api/enterprise/tokens/:id': 'Revoke a token (by id or name)',
  'GET /api/enterprise/audit': 'Query the audit log, newest first (cursor paging)',
  'GET /api/enterprise/audit/summary': 'Audit counts by action, user and result',
};

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'request_id'],
      properties: {
        code: { type: 'string', description: 'stable error code (docs/errors.md)' },
        message: { type: 'string' },
        request_id: { type: 'string' },
      },
    },
  },
};

const ERRORS: Record<string, string> = {
  '400': 'invalid input (the message names the field)',
  '401': 'no credential, or an invalid, expired or revoked one',
  '403': 'the credential lacks the scope this route needs',
  '404': 'not found, or not visible to the caller',
  '429': 'rate limit exceeded',
};

const errorRef = (d: string) => ({ description: d, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

function parameters(where: 'path' | 'query', schema: unknown, stream: boolean): Json[] {
  const s = schema as { properties?: Record<string, Json>; required?: string[] } | undefined;
  const out: Json[] = Object.entries(s?.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || (s?.required ?? []).includes(name),
    schema: p,
    ...(typeof p.description === 'string' ? { description: p.description } : {}),
  }));
  if (where === 'query' && stream) {
    out.push({ name: 'ticket', in: 'query', required: false, schema: { type: 'string', pattern: '^lst_[A-Za-z0-9_-]{43}$' }, description: 'single-use stream ticket (POST /api/auth/stream-ticket) instead of the Authorization header' });
  }
  return out;
}

function operation(r: CollectedRoute, method: string): Json {
  const s = r.schema;
  const isPublic = r.access.scope === 'public';
  const responses: Record<string, Json> = {};
  const declared = (s.response ?? {}) as Record<string, Json>;
  for (const [code, schema] of Object.entries(declared)) {
    const desc = typeof schema.description === 'string' ? schema.description : 'success';
    responses[code] = { description: desc, content: { 'application/json': { schema } } };
  }
  if (r.websocket) responses['101'] = { description: 'switching to the WebSocket protocol (see the route description)' };
  else if (r.access.stream) responses['200'] = { description: 'a text/event-stream of events', content: { 'text/event-stream': { schema: { type: 'string' } } } };
  if (!Object.keys(responses).length) responses['200'] = { description: 'success', content: { 'application/json': { schema: { type: 'object' } } } };
  const hasInput = Boolean(s.params || s.querystring || s.body);
  for (const [code, d] of Object.entries(ERRORS)) {
    if (code === '400' && !hasInput) continue;
    if ((code === '401' || code === '403') && isPublic) continue;
    responses[code] ??= errorRef(d);
  }
  const path = parameters('path', s.params, false);
  const query = parameters('query', s.querystring, Boolean(r.access.stream));
  const op: Json = {
    operationId: `${method}${r.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''))}`,
    summary: typeof s.summary === 'string' ? s.summary : (SUMMARIES[`${method.toUpperCase()} ${r.url}`] ?? `${method.toUpperCase()} ${r.url}`),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    tags: [tagOf(r.url)],
    ...(path.length || query.length ? { parameters: [...path, ...query] } : {}),
    responses,
    security: isPublic ? [] : r.access.stream ? [{ bearer: [] }, { streamTicket: [] }] : [{ bearer: [] }],
    'x-loki-scope': r.access.scope,
    'x-loki-owner-scoped': Boolean(r.access.owner),
    'x-loki-rate-limit': r.access.rateLimit === 'exempt' ? 'exempt' : isPublic ? 'per-ip' : 'per-subject',
  };
  if (r.access.stream) op['x-loki-stream'] = r.websocket ? 'websocket' : 'sse';
  if (s.body) op.requestBody = { required: Array.isArray((s.body as Json).required), content: { 'application/json': { schema: s.body } } };
  return op;
}

export function buildOpenApi(routes: readonly CollectedRoute[]): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const sorted = [...routes].sort((a, b) => a.url.localeCompare(b.url) || a.method.localeCompare(b.method));
  for (const r of sorted) {
    const method = r.method.toLowerCase();
    if (method === 'head') continue;
    const key = r.url.replace(/:(\w+)/g, '{$1}');
    (paths[key] ??= {})[method] = operation(r, method);
  }
  const used = new Set(sorted.map((r) => tagOf(r.url)));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Loki gateway API',
      version: VERSION,
      description:
        'The HTTP API of loki-gateway. Every route declares its scope (x-loki-scope); the daemon re-checks scope and ownership on every call. Errors are {"error":{"code","message","request_id"}}.',
    },
    tags: Object.entries(TAGS)
      .filter(([name]) => used.has(name))
      .map(([name, description]) => ({ name, description })),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a Loki API token (loki_…) or an OIDC access token (JWT)' },
        streamTicket: { type: 'apiKey', in: 'query', name: 'ticket', description: 'single-use, ≤ 60 s ticket bound to one path (SSE and WebSocket routes only)' },
      },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}

/** Collects every route registered after it (register it before the route groups). */
export const openApiCollector = fp(
  async (app: FastifyInstance, opts: { routes: CollectedRoute[] }) => {
    app.addHook('onRoute', (route) => {
      const access = route.config?.access;
      if (!access) return; // the guard refuses such a route anyway
      for (const m of Array.isArray(route.method) ? route.method : [route.method]) {
        opts.routes.push({ method: m, url: route.url, access, schema: (route.schema ?? {}) as Json, websocket: Boolean((route as { websocket?: boolean }).websocket) });
      }
    });
  },
  { name: 'loki-openapi-collector' },
);

export async function openApiRoutes(app: FastifyInstance, opts: { routes: readonly CollectedRoute[] }): Promise<void> {
  let doc: OpenApiDocument | undefined;
  app.get(
    '/openapi.json',
    {
      config: { access: { scope: 'read' } },
      schema: { summary: 'This OpenAPI 3.1 document', querystring: { type: 'object', additionalProperties: false, properties: {} } },
    },
    // Built on first request: by then every route group has registered.
    async () => (doc ??= buildOpenApi(opts.routes)),
  );
}
