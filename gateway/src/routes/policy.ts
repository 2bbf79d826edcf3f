// The policy engine over HTTP: how the daemon would decide a command or a path
// action (`check`, and `explain` with the per-command breakdown) and the active
// profiles (`show`). Explain records nothing and creates no approval; deciding
// "as a session" is allowed only for a session the caller may see.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LokiError } from '../../../common/src/index.js';
import type { PolicyAction, PolicyCheckInput } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { SESSION_ID_PATTERN } from '../../../common/src/index.js';

const READ: RouteAccess = { scope: 'read' };
const str = { type: 'string' } as const;
const strs = { type: 'array', items: str } as const;

interface CheckBody {
  command?: string;
  path?: string;
  kind?: 'write' | 'read' | 'delete';
  session_id?: string;
  profile?: string;
  cwd?: string;
}

const checkBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    command: { type: 'string', minLength: 1, maxLength: 100_000, description: 'a shell command (or send path + kind)' },
    path: { type: 'string', minLength: 1, maxLength: 4096, description: 'a file path, with kind' },
    kind: { type: 'string', enum: ['write', 'read', 'delete'], description: 'what is done to path' },
    session_id: { type: 'string', pattern: SESSION_ID_PATTERN, description: "decide as this session (its profile unless one is named, its autonomy mode, workspace and ownership)" },
    profile: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9._-]*$' },
    cwd: { type: 'string', minLength: 1, maxLength: 4096, pattern: '^/', description: 'working directory inside the sandbox' },
  },
} as const;

const commandSchema = { type: 'object', properties: { normalized: str, via: strs, decision: str, rule: str, reason: str } } as const;
const decisionSchema = {
  type: 'object',
  properties: {
    decision: { type: 'string', description: 'allow | deny | ask' },
    rule: str,
    reason: str,
    normalized: str,
    action_hash: str,
    profile: str,
    mode: str,
    commands: { type: 'array', items: commandSchema, description: 'explain: each simple command with the wrappers looked through; check: empty' },
  },
} as const;

const showSchema = {
  type: 'object',
  properties: {
    default_profile: str,
    mode: str,
    profiles: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: str,
          description: str,
          default_decision: str,
          fail_closed: str,
          writes: str,
          commit: str,
          mode: str,
          rules: { type: 'array', items: { type: 'object', properties: { id: str, effect: str, pattern: str, reason: str } } },
        },
      },
    },
    allowed_paths: strs,
    protected_paths: strs,
    approval_timeout_seconds: { type: 'integer' },
    on_timeout: str,
    four_eyes: { type: 'boolean' },
  },
} as const;

export function checkInput(b: CheckBody): PolicyCheckInput {
  let action: PolicyAction;
  if (b.command !== undefined) {
    if (b.path !== undefined || b.kind !== undefined) throw new LokiError('invalid_argument', 'send either body/command or body/path with body/kind, not both');
    if (!b.command.trim()) throw new LokiError('invalid_argument', 'body/command is empty');
    action = { kind: 'shell', command: b.command };
  } else if (b.path !== undefined) {
    if (!b.kind) throw new LokiError('invalid_argument', 'body/kind is required with body/path (write, read or delete)');
    action = { kind: b.kind, path: b.path };
  } else {
    throw new LokiError('invalid_argument', 'nothing to check: send body/command, or body/path with body/kind');
  }
  return { action, ...(b.session_id ? { session_id: b.session_id } : {}), ...(b.profile ? { profile: b.profile } : {}), ...(b.cwd ? { cwd: b.cwd } : {}) };
}

export async function policyRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const client = (req: FastifyRequest) => opts.daemon.forCaller(callIdentity(req));

  app.post<{ Body: CheckBody }>(
    '/api/policy/check',
    { config: { access: READ }, schema: { summary: 'How the daemon would decide a command or path action (nothing is recorded)', body: checkBody, response: { 200: decisionSchema } } },
    async (req) => ({ ...(await client(req).policy.check(checkInput(req.body ?? {}))), commands: [] }),
  );

  app.post<{ Body: CheckBody }>(
    '/api/policy/explain',
    { config: { access: READ }, schema: { summary: 'check, with every simple command and the wrappers looked through', body: checkBody, response: { 200: decisionSchema } } },
    async (req) => client(req).policy.explain(checkInput(req.body ?? {})),
  );

  app.get<{ Querystring: { profile?: string } }>(
    '/api/policy',
    {
      config: { access: READ },
      schema: {
        summary: 'Profiles, rules, paths, approval settings and the autonomy mode',
        querystring: { type: 'object', additionalProperties: false, properties: { profile: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'only this profile' } } },
        response: { 200: showSchema },
      },
    },
    async (req) => client(req).policy.show(req.query.profile ? { profile: req.query.profile } : {}),
  );
}
