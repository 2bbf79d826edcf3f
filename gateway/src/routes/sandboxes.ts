// Sandboxes over HTTP: list, start, status, logs (SSE), stop, remove. The
// daemon owns every container, applies its hardening and ceilings (a request
// can only ask for a relaxation the daemon's config also allows), checks scope
// again and hides other owners' sandboxes (404). exec/shell: sandbox-ws.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SANDBOX_REF_PATTERN, SANDBOX_STATES, listText } from '../../../common/src/index.js';
import type { OutputChunk, StartSandboxInput } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { sendSse, type SseOptions } from './sse.js';

export interface SandboxRouteOptions extends SseOptions {
  daemon: DaemonClient;
}

const READ: RouteAccess = { scope: 'read', owner: true };
const CONTROL: RouteAccess = { scope: 'control', owner: true };

export const sandboxParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: SANDBOX_REF_PATTERN } } } as const;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
export const sandboxSchema = {
  type: 'object',
  properties: {
    id: str,
    name: str,
    state: { type: 'string', description: listText(SANDBOX_STATES) },
    owner: str,
    project: str,
    session: str,
    image: str,
    created_at: { type: ['string', 'null'] },
    workspace: str,
    exit_code: int,
    hardening: {
      type: ['object', 'null'],
      properties: {
        user: str,
        read_only_rootfs: { type: 'boolean' },
        cap_drop: { type: 'array', items: str },
        no_new_privileges: { type: 'boolean' },
        seccomp_profile: str,
        network_mode: str,
        memory_bytes: int,
        cpus: { type: 'number' },
        pids: int,
        privileged: { type: 'boolean' },
      },
    },
  },
} as const;

interface StartBody {
  name?: string;
  project?: string;
  image?: string;
  command?: string[];
  env?: Record<string, string>;
  memory_bytes?: number;
  cpus?: number;
  pids?: number;
  network?: boolean;
  writable_rootfs?: boolean;
  root_user?: boolean;
}

const startBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: SANDBOX_REF_PATTERN, description: 'unique name' },
    project: { type: 'string', minLength: 1, maxLength: 128 },
    image: { type: 'string', minLength: 1, maxLength: 256 },
    command: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 8192 }, description: 'main process argv (default: an idle shell loop)' },
    env: { type: 'object', maxProperties: 128, propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }, additionalProperties: { type: 'string', maxLength: 8192 } },
    memory_bytes: { type: 'integer', minimum: 4 * 1024 * 1024, maximum: 2 ** 42, description: 'memory limit (≤ the daemon ceiling)' },
    cpus: { type: 'number', exclusiveMinimum: 0, maximum: 1024, description: 'CPU limit (≤ the daemon ceiling)' },
    pids: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'process limit (≤ the daemon ceiling)' },
    network: { type: 'boolean', description: 'relax: bridge network (the daemon config must allow it too)' },
    writable_rootfs: { type: 'boolean', description: 'relax: writable root filesystem (the daemon config must allow it too)' },
    root_user: { type: 'boolean', description: 'relax: root inside the container (the daemon config must allow it too)' },
  },
} as const;

function toStartInput(b: StartBody): StartSandboxInput {
  return {
    ...(b.name ? { name: b.name } : {}),
    ...(b.project ? { project: b.project } : {}),
    ...(b.image ? { image: b.image } : {}),
    ...(b.command?.length ? { command: b.command } : {}),
    ...(b.env ? { env: b.env } : {}),
    limits: { memory_bytes: b.memory_bytes ?? 0, cpus: b.cpus ?? 0, pids: b.pids ?? 0 },
    relax: { network: b.network === true, writable_rootfs: b.writable_rootfs === true, root_user: b.root_user === true },
  };
}

export async function sandboxRoutes(app: FastifyInstance, opts: SandboxRouteOptions): Promise<void> {
  const client = (req: FastifyRequest) => opts.daemon.forCaller(callIdentity(req));

  app.get<{ Querystring: { all?: boolean } }>(
    '/api/sandboxes',
    {
      config: { access: READ },
      schema: {
        summary: 'List sandboxes (running ones unless all=true)',
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean', description: 'include exited sandboxes' } } },
        response: { 200: { type: 'object', properties: { sandboxes: { type: 'array', items: sandboxSchema } } } },
      },
    },
    async (req) => ({ sandboxes: await client(req).sandboxes.list({ all: req.query.all === true }) }),
  );

  app.post<{ Body: StartBody }>(
    '/api/sandboxes',
    { config: { access: CONTROL }, schema: { summary: 'Start a hardened sandbox', body: startBody, response: { 201: sandboxSchema } } },
    async (req, reply) => reply.code(201).send(await client(req).sandboxes.start(toStartInput(req.body ?? {}))),
  );

  app.get<{ Params: { id: string } }>(
    '/api/sandboxes/:id',
    { config: { access: READ }, schema: { summary: 'Show one sandbox (by id or name)', params: sandboxParams, response: { 200: sandboxSchema } } },
    async (req) => client(req).sandboxes.status(req.params.id),
  );

  app.get<{ Params: { id: string }; Querystring: { follow: boolean; tail?: number; timestamps: boolean } }>(
    '/api/sandboxes/:id/logs',
    {
      config: { access: { ...READ, stream: true } },
      schema: {
        summary: 'Sandbox logs on SSE: `event: stdout|stderr`, data {"stream","data"} (UTF-8 text); the stream ends with the logs unless follow=true',
        params: sandboxParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            follow: { type: 'boolean', default: false },
            tail: { type: 'integer', minimum: 1, maximum: 100_000, description: 'only the last N lines' },
            timestamps: { type: 'boolean', default: false },
          },
        },
      },
    },
    async (req, reply) => {
      const c = client(req);
      // Ownership and existence first, so a foreign id is a plain 404 rather than a 200 with an error event.
      await c.sandboxes.status(req.params.id);
      const q = { follow: req.query.follow, timestamps: req.query.timestamps, ...(req.query.tail ? { tail: req.query.tail } : {}) };
      // One streaming decoder per stream, so a character split across chunks is not mangled.
      const text = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8') };
      const frame = (chunk: OutputChunk) => ({ event: chunk.stream, data: { stream: chunk.stream, data: text[chunk.stream].decode(chunk.data, { stream: true }) } });
      return sendSse(req, reply, (signal) => c.sandboxes.logs(req.params.id, { ...q, signal }), frame, opts);
    },
  );

  app.post<{ Params: { id: string }; Body: { timeout_seconds?: number; keep?: boolean } | undefined }>(
    '/api/sandboxes/:id/stop',
    {
      config: { access: CONTROL },
      schema: {
        summary: 'Stop a sandbox (and remove it unless keep=true)',
        params: sandboxParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            timeout_seconds: { type: 'integer', minimum: 0, maximum: 3600, description: 'grace period before SIGKILL; 0 = the configured default' },
            keep: { type: 'boolean', description: 'keep the stopped container' },
          },
        },
        response: { 200: { type: 'object', properties: { sandbox: sandboxSchema, removed: { type: 'boolean' } } } },
      },
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => client(req).sandboxes.stop(req.params.id, { timeout_seconds: req.body?.timeout_seconds ?? 0, keep: req.body?.keep === true }),
  );

  app.delete<{ Params: { id: string }; Querystring: { force?: boolean } }>(
    '/api/sandboxes/:id',
    {
      config: { access: CONTROL },
      schema: {
        summary: 'Remove a sandbox (force=true: even while running)',
        params: sandboxParams,
        querystring: { type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } },
        response: { 200: { type: 'object', properties: { id: str, removed: { type: 'boolean' } } } },
      },
    },
    async (req) => {
      await client(req).sandboxes.remove(req.params.id, { force: req.query.force === true });
      return { id: req.params.id, removed: true };
    },
  );
}
