// Projects over HTTP: the git repositories the daemon may clone into session
// workspaces, served at /api/projects and (same handlers) /api/registry/projects.
// Reading needs `read`, registering and removing `control`; the daemon scopes
// projects to their registrant (plus git.shared_projects; `*` sees all) and lets
// a caller without `*` register only inside git.registry_roots.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PROJECT_REF_PATTERN } from '../../../common/src/index.js';
import type { RegisterProjectInput } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';

const READ: RouteAccess = { scope: 'read', owner: true };
const CONTROL: RouteAccess = { scope: 'control', owner: true };

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
    alias: { type: ['string', 'null'] },
    shared: { type: 'boolean', description: 'visible to every reader by the daemon configuration (git.shared_projects)' },
  },
} as const;

export const PROJECT_PREFIXES = ['/api/projects', '/api/registry/projects'] as const;

export const refParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: PROJECT_REF_PATTERN, description: 'project id (prj-…) or name' } },
} as const;

const registerBody = {
  type: 'object',
  required: ['path'],
  additionalProperties: false,
  properties: {
    path: { type: 'string', minLength: 2, maxLength: 4096, pattern: '^/', description: "absolute path, on the daemon's host, of a non-bare repository's top level" },
    name: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9_.-]*$' },
    alias: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9_.-]*$', description: 'a second name the project answers to' },
    base_branch: { type: 'string', minLength: 1, maxLength: 255 },
    remote: { type: 'string', minLength: 1, maxLength: 255 },
    protected_branches: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

/** The project routes under `prefix`; registered at both the historical and the registry prefix. */
export async function projectRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const client = (req: FastifyRequest) => opts.daemon.forCaller(callIdentity(req));
  const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
  const list = async (req: FastifyRequest) => ({ projects: await client(req).projects.list() });
  const register = async (req: FastifyRequest<{ Body: RegisterProjectInput }>, reply: FastifyReply) => reply.code(201).send(await client(req).projects.register(req.body));
  const show = async (req: FastifyRequest<{ Params: { id: string } }>) => client(req).projects.get(req.params.id);
  const remove = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    await client(req).projects.remove(req.params.id);
    return { id: req.params.id, removed: true };
  };

  for (const prefix of PROJECT_PREFIXES) {
    app.get(
      prefix,
      { config: { access: READ }, schema: { summary: 'List the projects the caller may see', querystring: noQuery, response: { 200: { type: 'object', properties: { projects: { type: 'array', items: projectSchema } } } } } },
      list,
    );
    app.post<{ Body: RegisterProjectInput }>(
      prefix,
      {
        config: { access: CONTROL },
        schema: { summary: 'Register the git repository at a host path (idempotent; outside git.registry_roots only an admin may)', body: registerBody, response: { 200: projectSchema, 201: projectSchema } },
      },
      register,
    );
    app.get<{ Params: { id: string } }>(
      `${prefix}/:id`,
      { config: { access: READ }, schema: { summary: 'Show one project (by id, name or alias)', params: refParams, querystring: noQuery, response: { 200: projectSchema } } },
      show,
    );
    app.delete<{ Params: { id: string } }>(
      `${prefix}/:id`,
      {
        config: { access: CONTROL },
        schema: {
          summary: 'Unregister a project: its registrant or an admin (refused while a session workspace of it is active)',
          params: refParams,
          querystring: noQuery,
          response: { 200: { type: 'object', properties: { id: str, removed: { type: 'boolean' } } } },
        },
      },
      remove,
    );
  }
}
