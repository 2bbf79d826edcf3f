// Token management API (admin `*`), Loki Mode's /api/enterprise/tokens. The
// daemon generates, stores (hash only) and audits; the gateway validates input
// and shapes the DTOs. The secret appears exactly once, in the POST response.
import type { FastifyInstance } from 'fastify';
import { LokiError, ROLES, SCOPES } from '../../../common/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { intParam } from './schemas.js';

const ADMIN: RouteAccess = { scope: '*' };

/** The response schema of a token: the client's domain `Token` (client/src/types/access.ts), converted in client/src/grpc/convert.ts. */
const tokenDtoSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    role: { type: ['string', 'null'] },
    owner: { type: 'string' },
    created_at: { type: 'string' },
    expires_at: { type: ['string', 'null'] },
    revoked_at: { type: ['string', 'null'] },
    last_used_at: { type: ['string', 'null'] },
    status: { type: 'string' },
  },
} as const;

interface GenerateBody {
  name: string;
  scopes?: string[] | string;
  role?: string;
  expires_days?: number;
}

export async function tokenRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  const { daemon } = opts;

  app.post<{ Body: GenerateBody }>(
    '/api/enterprise/tokens',
    {
      config: { access: ADMIN },
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
            // Loki Mode accepts "read,write" as well as a list.
            scopes: { anyOf: [{ type: 'array', maxItems: 8, items: { type: 'string', enum: [...SCOPES] } }, { type: 'string', maxLength: 64 }] },
            role: { type: 'string', enum: Object.keys(ROLES) },
            expires_days: { type: 'integer', minimum: -1, maximum: 3650 },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: { ...tokenDtoSchema.properties, token: { type: 'string' }, message: { type: 'string' } },
          },
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const scopes = typeof b.scopes === 'string' ? b.scopes.split(',').map((s) => s.trim()).filter(Boolean) : (b.scopes ?? []);
      const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (bad.length) throw new LokiError('invalid_argument', `unknown scope(s): ${bad.join(', ')}; valid: ${SCOPES.join(', ')}`);
      const r = await daemon.forCaller(callIdentity(req)).tokens.generate({ name: b.name, scopes, role: b.role ?? '', expires_days: intParam(b.expires_days, 'body/expires_days', -1, 3650) ?? 0 });
      return reply.code(201).send({ ...r.token, token: r.secret, message: "IMPORTANT: Save this token - it won't be shown again!" });
    },
  );

  app.get<{ Querystring: { all?: boolean } }>(
    '/api/enterprise/tokens',
    {
      config: { access: ADMIN },
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
        response: { 200: { type: 'object', properties: { tokens: { type: 'array', items: tokenDtoSchema } } } },
      },
    },
    async (req) => {
      return { tokens: await daemon.forCaller(callIdentity(req)).tokens.list({ all: req.query.all === true }) };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/enterprise/tokens/:id',
    {
      config: { access: ADMIN },
      schema: {
        // Names and ids share this alphabet; anything else (control characters above all) is refused
        // here, before the daemon would put it in an audit resource and fail writing that.
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' } } },
        response: { 200: { type: 'object', properties: { revoked: { type: 'boolean' }, token: tokenDtoSchema } } },
      },
    },
    async (req) => {
      return { revoked: true, token: await daemon.forCaller(callIdentity(req)).tokens.revoke(req.params.id) };
    },
  );
}
