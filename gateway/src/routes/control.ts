// Loki Mode's control API: POST /api/control/{start,stop,pause,resume}, and the
// clean-up of ended sessions: DELETE /api/sessions/:id/workspace, POST /api/sessions/prune.
// `control` scope; `stop` is the emergency brake and is never rate limited.
// Without a session_id, stop/pause/resume act on the caller's only active session.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AUTONOMY_MODES, LokiError, PROVIDERS, SESSION_ID_PATTERN } from '../../../common/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import type { RouteGroup } from '../app.js';
import { sessionDtoSchema, sessionRoutes, type SessionRouteOptions } from './sessions.js';
import { intField, intParam } from './schemas.js';

interface StartBody {
  prd?: string;
  prompt?: string;
  provider?: string;
  plan?: string | unknown[];
  profile?: string;
  autonomy?: string;
  project?: string;
  model?: string;
  base_url?: string;
  upstream?: string;
  max_iterations?: number;
  network?: boolean;
  /** Loki Mode compatibility: sessions always run sandboxed, so this changes nothing. */
  sandbox?: boolean;
}

const CONTROL: RouteAccess = { scope: 'control', owner: true };
const EMERGENCY: RouteAccess = { scope: 'control', owner: true, rateLimit: 'exempt' };

const startSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prd: { type: 'string', minLength: 1, maxLength: 4096 },
    prompt: { type: 'string', minLength: 1, maxLength: 1_000_000 },
    provider: { type: 'string', enum: PROVIDERS },
    // The plan as YAML/JSON text or as the list itself (checked in the handler: a union type would be coerced).
    plan: {},
    profile: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9._-]*$' },
    autonomy: { type: 'string', enum: AUTONOMY_MODES },
    project: { type: 'string', minLength: 1, maxLength: 128 },
    model: { type: 'string', minLength: 1, maxLength: 200 },
    base_url: { type: 'string', minLength: 1, maxLength: 2048 },
    // A model upstream the daemon's admin configured; a free-form base_url must match one exactly.
    upstream: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
    max_iterations: { type: 'integer', minimum: 1, maximum: 100_000 },
    network: { type: 'boolean' },
    sandbox: { type: 'boolean' },
  },
} as const;

const refSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { session_id: { type: 'string', pattern: SESSION_ID_PATTERN } },
} as const;

async function target(daemon: DaemonClient, req: FastifyRequest<{ Body: { session_id?: string } | undefined }>): Promise<string> {
  const given = req.body?.session_id;
  if (given) return given;
  const active = await daemon.forCaller(callIdentity(req)).sessions.list({ all: false });
  if (active.length === 1) return active[0]!.id;
  if (!active.length) throw new LokiError('session_not_found', 'no active session; send {"session_id": "ses-…"}');
  throw new LokiError('invalid_argument', `several sessions are active (${active.map((s) => s.id).join(', ')}); send {"session_id": "ses-…"}`);
}

export async function controlRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const { daemon } = opts;

  app.post<{ Body: StartBody }>(
    '/api/control/start',
    { config: { access: CONTROL }, schema: { body: startSchema, response: { 201: sessionDtoSchema } } },
    async (req, reply) => {
      const b = req.body ?? {};
      if (!b.prd && !b.prompt) throw new LokiError('invalid_argument', 'send a PRD path ("prd") or an inline prompt ("prompt")');
      if (b.plan !== undefined && typeof b.plan !== 'string' && !Array.isArray(b.plan)) throw new LokiError('invalid_argument', 'plan must be a list of steps or its JSON/YAML text');
      const s = await daemon.forCaller(callIdentity(req)).sessions.start({
        ...(b.prd ? { prd: b.prd } : {}),
        ...(b.prompt ? { prompt: b.prompt } : {}),
        ...(b.provider ? { provider: b.provider } : {}),
        ...(b.plan !== undefined ? { plan: typeof b.plan === 'string' ? b.plan : JSON.stringify(b.plan) } : {}),
        ...(b.profile ? { profile: b.profile } : {}),
        ...(b.autonomy ? { autonomy: b.autonomy } : {}),
        ...(b.project ? { project: b.project } : {}),
        ...(b.model ? { model: b.model } : {}),
        ...(b.base_url ? { base_url: b.base_url } : {}),
        ...(b.upstream ? { upstream: b.upstream } : {}),
        ...(b.max_iterations ? { max_iterations: intParam(b.max_iterations, 'body/max_iterations', 1, 100_000)! } : {}),
        network: b.network === true,
      });
      return reply.code(201).send(s);
    },
  );

  for (const verb of ['stop', 'pause', 'resume'] as const) {
    app.post<{ Body: { session_id?: string } | undefined }>(
      `/api/control/${verb}`,
      {
        config: { access: verb === 'stop' ? EMERGENCY : CONTROL },
        schema: { body: refSchema, response: { 200: sessionDtoSchema } },
        // `curl -X POST /api/control/stop` with no body must work: the emergency brake takes no arguments.
        preValidation: async (req) => {
          req.body ??= {};
        },
      },
      async (req) => {
        const id = await target(daemon, req);
        return daemon.forCaller(callIdentity(req)).sessions[verb](id);
      },
    );
  }
}

/** Ten years: a bound that no real retention reaches, so an overflow is a 400, not a wrapped number. */
const MAX_AGE_SECONDS = 10 * 366 * 86_400;

const removedSchema = { type: 'object', properties: { session: sessionDtoSchema, freed_bytes: { type: 'integer' } } } as const;
const pruneSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { older_than_seconds: intField(0, MAX_AGE_SECONDS), dry_run: { type: 'boolean' } },
} as const;
const prunedSchema = {
  type: 'object',
  properties: { removed: { type: 'array', items: { type: 'string' } }, freed_bytes: { type: 'integer' }, dry_run: { type: 'boolean' } },
} as const;

/** Removing the workspaces of ended sessions (`loki sessions rm` / `prune` remotely). The daemon audits both. */
export async function cleanupRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const { daemon } = opts;
  app.delete<{ Params: { id: string } }>(
    '/api/sessions/:id/workspace',
    {
      config: { access: CONTROL },
      schema: {
        summary: "Remove an ended session's workspace and container (the record, branch and audit trail stay)",
        params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: SESSION_ID_PATTERN } } },
        response: { 200: removedSchema },
      },
    },
    async (req) => {
      return daemon.forCaller(callIdentity(req)).sessions.remove(req.params.id);
    },
  );
  app.post<{ Body: { older_than_seconds?: number; dry_run?: boolean } | undefined }>(
    '/api/sessions/prune',
    {
      config: { access: CONTROL },
      schema: { summary: 'Remove the workspaces of every ended session the caller may control, optionally only older ones', body: pruneSchema, response: { 200: prunedSchema } },
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      const dryRun = req.body?.dry_run === true;
      const olderThanSeconds = intParam(req.body?.older_than_seconds, 'body/older_than_seconds', 0, MAX_AGE_SECONDS) ?? 0;
      return daemon.forCaller(callIdentity(req)).sessions.prune({ older_than_seconds: olderThanSeconds, dry_run: dryRun });
    },
  );
}

/**
 * The session and control route groups, for `buildApp({ routes })` (main.ts):
 * `routes: sessionRouteGroups(daemon)`.
 */
export function sessionRouteGroups(daemon: DaemonClient, o: Omit<SessionRouteOptions, 'daemon'> = {}): RouteGroup[] {
  return [
    { plugin: sessionRoutes as unknown as RouteGroup['plugin'], options: { ...o, daemon } },
    { plugin: controlRoutes as unknown as RouteGroup['plugin'], options: { daemon } },
    { plugin: cleanupRoutes as unknown as RouteGroup['plugin'], options: { daemon } },
  ];
}
