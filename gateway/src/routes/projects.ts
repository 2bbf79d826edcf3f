// Projects over HTTP: the git repositories the daemon may clone into session
// workspaces. Reading needs `read`; registering and removing grant or take back
// a host path, so the daemon demands `*` for them (and this route says so too).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RegisterProjectInput } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';

const READ: RouteAccess = { scope: 'read' };
const ADMIN: RouteAccess = { scope: '*' };

const str = { type: 'string' } as const;
export const projectSchema = {
  type: 'object',
  properties: {
    id: str,
    name: str,
    path: { type: 'string', description: "real path of the repository top level on the daemon's host" },
    base_branch: str,
    remote: { type: ['string', 'null'] },
    protected_branches: { type: 'array', items: str },
    registered_by: str,
    registered_at: { type: ['string', 'null'] },
  },
} as const;

const refParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$', description: 'project id (prj-…) or name' } },
} as const;

const registerBody = {
  type: 'object',
  required: ['path'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 2, maxLength: 4096, pattern: '^/', description: "absolute path, on the daemon's host, of a non-bare repository's top level" },
    name: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9_.-]*$' },
    base_branch: { type: 'string', minLength: 1, maxLength: 255 },
    remote: { type: 'string', minLength: 1, maxLength: 255 },
    protected_branches: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

export async function projectRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const client = (req: FastifyRequest) => opts.daemon.forCaller(callIdentity(req));
  const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

  app.get(
    '/api/projects',
    { config: { access: READ }, schema: { summary: 'List registered projects', querystring: noQuery, response: { 200: { type: 'object', properties: { projects: { type: 'array', items: projectSchema } } } } } },
    async (req) => ({ projects: await client(req).projects.list() }),
  );

  app.post<{ Body: RegisterProjectInput }>(
    '/api/projects',
    { config: { access: ADMIN }, schema: { summary: 'Allow the daemon to use the git repository at a host path', body: registerBody, response: { 201: projectSchema } } },
    async (req, reply) => reply.code(201).send(await client(req).projects.register(req.body)),
  );

  app.get<{ Params: { id: string } }>(
    '/api/projects/:id',
    { config: { access: READ }, schema: { summary: 'Show one project (by id or name)', params: refParams, querystring: noQuery, response: { 200: projectSchema } } },
    async (req) => client(req).projects.get(req.params.id),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/projects/:id',
    {
      config: { access: ADMIN },
      schema: { summary: 'Unregister a project (refused while a session workspace of it is active)', params: refParams, querystring: noQuery, response: { 200: { type: 'object', properties: { id: str, removed: { type: 'boolean' } } } } },
    },
    async (req) => {
      await client(req).projects.remove(req.params.id);
      return { id: req.params.id, removed: true };
    },
  );
}
