// The registry over HTTP (beyond the project CRUD in projects.ts): health,
// discovery, sync and tasks across the projects the caller may see. The daemon
// decides visibility and where discovery may look; these routes declare scope
// and shape only.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PROJECT_REF_PATTERN, TASK_STATUSES } from '../../../common/src/index.js';
import type { DiscoverInput, ListTasksQuery } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { projectSchema, refParams } from './projects.js';

const READ: RouteAccess = { scope: 'read', owner: true };
const CONTROL: RouteAccess = { scope: 'control', owner: true };
const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const status = { type: 'string', enum: ['ok', 'warn', 'fail'] } as const;
const rootPath = { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/' } as const;

const healthSchema = {
  type: 'object',
  properties: {
    project: projectSchema,
    status,
    checks: { type: 'array', items: { type: 'object', properties: { name: str, status, detail: str } } },
  },
} as const;

const discoverSchema = {
  type: 'object',
  properties: {
    repos: { type: 'array', items: { type: 'object', properties: { path: str, root: str, project_id: nullableStr, project_name: nullableStr, error: nullableStr } } },
    skipped_symlinks: { type: 'array', items: str },
    truncated: { type: 'boolean' },
  },
} as const;

const syncSchema = {
  type: 'object',
  properties: {
    projects: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          project_id: str,
          project_name: str,
          branches: { type: 'integer' },
          last_commit: nullableStr,
          last_commit_subject: nullableStr,
          last_commit_at: nullableStr,
          session_branches: { type: 'array', items: str },
          error: nullableStr,
        },
      },
    },
  },
} as const;

const TASK_STATUS = { type: 'string', enum: TASK_STATUSES } as const;
const taskSchema = {
  type: 'object',
  properties: { session_id: str, task_id: str, status: TASK_STATUS, project_id: str, project_name: str, owner: str, session_state: str, session_created_at: nullableStr },
} as const;

const projectRef = { type: 'string', pattern: PROJECT_REF_PATTERN, description: 'project id, name or alias' } as const;

export async function registryRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const client = (req: FastifyRequest) => opts.daemon.forCaller(callIdentity(req));

  app.get<{ Params: { id: string } }>(
    '/api/registry/projects/:id/health',
    {
      config: { access: READ },
      schema: { summary: 'Health of one project: repo readable, base branch, working tree, remote, last session, sandbox image', params: refParams, querystring: noQuery, response: { 200: healthSchema } },
    },
    async (req) => client(req).projects.health(req.params.id),
  );

  const discoverQuery = {
    type: 'object',
    additionalProperties: false,
    properties: {
      root: { type: 'array', maxItems: 64, items: rootPath, description: 'repeatable; default the daemon git.registry_roots' },
      depth: { type: 'integer', minimum: 0, maximum: 8 },
    },
  } as const;
  app.get<{ Querystring: { root?: string[]; depth?: number } }>(
    '/api/registry/discover',
    { config: { access: CONTROL }, schema: { summary: 'Git repositories under the roots (symlinks never followed, nothing in a repository runs)', querystring: discoverQuery, response: { 200: discoverSchema } } },
    async (req) => client(req).projects.discover({ ...(req.query.root ? { roots: req.query.root } : {}), ...(req.query.depth ? { depth: req.query.depth } : {}) }),
  );

  const discoverBody = {
    type: 'object',
    additionalProperties: false,
    properties: { roots: { type: 'array', maxItems: 64, items: rootPath }, depth: { type: 'integer', minimum: 0, maximum: 8 }, register: { type: 'boolean' } },
  } as const;
  app.post<{ Body: DiscoverInput }>(
    '/api/registry/discover',
    { config: { access: CONTROL }, schema: { summary: 'Discover repositories and (with register) register the new ones', body: discoverBody, response: { 200: discoverSchema } } },
    async (req) => client(req).projects.discover(req.body),
  );

  const syncBody = { type: 'object', additionalProperties: false, properties: { project: projectRef } } as const;
  app.post<{ Body: { project?: string } }>(
    '/api/registry/sync',
    { config: { access: READ }, schema: { summary: 'Branches, last commit and open session branches of one or every visible project', body: syncBody, response: { 200: syncSchema } } },
    async (req) => ({ projects: await client(req).projects.sync(req.body?.project) }),
  );

  const learningSchema = {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      session_id: str,
      project_id: str,
      project_name: str,
      text: str,
      tags: { type: 'array', items: str },
      created_at: nullableStr,
      match: { type: ['string', 'null'], enum: ['phrase', 'terms', null], description: 'search only: phrase matches rank before terms matches' },
    },
  } as const;
  const learningsQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { q: { type: 'string', maxLength: 1000, description: 'full-text query; omitted = newest first' }, project: projectRef, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
  } as const;
  app.get<{ Querystring: { q?: string; project?: string; limit?: number } }>(
    '/api/registry/learnings',
    {
      config: { access: READ },
      schema: { summary: 'Learnings sessions recorded: ranked full-text search (exact phrase first) or the newest', querystring: learningsQuery, response: { 200: { type: 'object', properties: { learnings: { type: 'array', items: learningSchema } } } } },
    },
    async (req) => {
      const { q, ...rest } = req.query;
      const c = client(req);
      return { learnings: q ? await c.memory.search(q, rest) : await c.memory.list(rest) };
    },
  );

  const pruneSchema = {
    type: 'object',
    properties: {
      dry_run: { type: 'boolean' },
      projects: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            project_id: str,
            project_name: str,
            branches: { type: 'array', items: { type: 'object', properties: { branch: str, commit: str, reason: { type: 'string', enum: ['merged', 'identical', 'removed_session'] }, deleted: { type: 'boolean' }, error: nullableStr } } },
            error: nullableStr,
          },
        },
      },
    },
  } as const;
  const pruneBody = { type: 'object', additionalProperties: false, properties: { project: projectRef, yes: { type: 'boolean', description: 'delete; otherwise a dry run' } } } as const;
  app.post<{ Body: { project?: string; yes?: boolean } }>(
    '/api/registry/prune',
    {
      config: { access: CONTROL },
      schema: { summary: 'Session branches that are merged, identical to their base or of removed sessions: list (dry run) or delete (yes, audited)', body: pruneBody, response: { 200: pruneSchema } },
    },
    async (req) => client(req).projects.prune(req.body?.project, { yes: req.body?.yes ?? false }),
  );

  const tasksQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { status: TASK_STATUS, project: projectRef, limit: { type: 'integer', minimum: 1, maximum: 10000 } },
  } as const;
  app.get<{ Querystring: ListTasksQuery }>(
    '/api/registry/tasks',
    { config: { access: READ }, schema: { summary: 'Tasks sessions reported, across the projects the caller may see', querystring: tasksQuery, response: { 200: { type: 'object', properties: { tasks: { type: 'array', items: taskSchema } } } } } },
    async (req) => ({ tasks: await client(req).tasks.list(req.query) }),
  );
}
