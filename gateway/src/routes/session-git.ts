// A session's git side and agent trail over HTTP: diff summary, the patch
// itself, the branch/workspace record and the agent action trail. All are read
// through the daemon, which computes them in the project repository (never in
// the agent's workspace) and answers 404 for another owner's session.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { SESSION_ID_PATTERN } from '../../../common/src/index.js';

const READ: RouteAccess = { scope: 'read', owner: true };
const CONTROL: RouteAccess = { scope: 'control', owner: true };
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: SESSION_ID_PATTERN } } } as const;
const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;

export const diffSummarySchema = {
  type: 'object',
  properties: {
    session_id: str,
    branch: str,
    base_branch: str,
    base_commit: str,
    head_commit: str,
    descends_from_base: { type: 'boolean' },
    files_changed: int,
    insertions: int,
    deletions: int,
    files: { type: 'array', items: { type: 'object', properties: { path: str, insertions: int, deletions: int, binary: { type: 'boolean' } } } },
    commits: { type: 'array', items: { type: 'object', properties: { sha: str, subject: str, author: str, date: str, files_changed: int } } },
    pull_request: {
      type: ['object', 'null'],
      description: 'the last pull-request attempt (null before any): why none was opened and the exact commands to do it by hand',
      properties: { opened: { type: 'boolean' }, url: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] }, commands: { type: 'array', items: str } },
    },
  },
} as const;

const pullRequestSchema = {
  type: 'object',
  properties: { opened: { type: 'boolean' }, url: { type: ['string', 'null'] }, reason: { type: ['string', 'null'] }, commands: { type: 'array', items: str } },
} as const;

const patchSchema = {
  type: 'object',
  properties: {
    session_id: str,
    base_commit: str,
    head_commit: str,
    patch: { type: 'string', description: 'unified diff base_commit..head_commit' },
    truncated: { type: 'boolean', description: 'cut at the daemon limit (4 MiB), at a line boundary' },
  },
} as const;

const workspaceSchema = {
  type: 'object',
  properties: {
    session_id: str,
    project_id: str,
    branch: str,
    base_branch: str,
    base_commit: str,
    head_commit: { type: ['string', 'null'] },
    state: str,
    workspace: str,
    agent: str,
    owner: str,
    created_at: str,
    finished_at: { type: ['string', 'null'] },
  },
} as const;

const trailEntrySchema = {
  type: 'object',
  properties: { session_id: str, seq: int, timestamp: str, action: str, agent: str, details: {} },
} as const;

export async function sessionGitRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const client = (req: FastifyRequest) => opts.daemon.forCaller(callIdentity(req));

  app.get<{ Params: { id: string } }>(
    '/api/sessions/:id/diff',
    { config: { access: READ }, schema: { summary: "Diff summary of the session branch against its pinned base commit", params: idParams, querystring: noQuery, response: { 200: diffSummarySchema } } },
    async (req) => client(req).sessions.diff(req.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/api/sessions/:id/pr',
    {
      config: { access: CONTROL },
      schema: { summary: 'Push the session branch and open its pull request now (gh on the daemon host); says why not, with the commands', params: idParams, querystring: noQuery, response: { 200: pullRequestSchema } },
    },
    async (req) => client(req).sessions.pullRequest(req.params.id),
  );

  app.get<{ Params: { id: string } }>(
    '/api/sessions/:id/patch',
    { config: { access: READ }, schema: { summary: 'The unified patch of the session branch against its base commit', params: idParams, querystring: noQuery, response: { 200: patchSchema } } },
    async (req) => client(req).sessions.patch(req.params.id),
  );

  app.get<{ Params: { id: string } }>(
    '/api/sessions/:id/branch',
    { config: { access: READ }, schema: { summary: "The session's branch, base commit and workspace record", params: idParams, querystring: noQuery, response: { 200: workspaceSchema } } },
    async (req) => client(req).sessions.workspace(req.params.id),
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
    '/api/sessions/:id/trail',
    {
      config: { access: READ },
      schema: {
        summary: 'The agent action trail of the session, oldest first',
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, description: 'only the last N entries' } } },
        response: { 200: { type: 'object', properties: { entries: { type: 'array', items: trailEntrySchema } } } },
      },
    },
    async (req) => ({ entries: await client(req).sessions.trail({ session_id: req.params.id, ...(req.query.limit ? { limit: req.query.limit } : {}) }) }),
  );
}
