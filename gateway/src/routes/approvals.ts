// Approvals over HTTP: the human side of a policy `ask`. List (by session and
// status), show, approve or reject with a comment, and watch pending ones on
// SSE. The daemon records the authenticated caller as the decider (nothing in
// the body can name one), filters by ownership and answers 404 for another
// owner's approval exactly as for a missing one.
import type { FastifyInstance } from 'fastify';
import { APPROVAL_ID_PATTERN, APPROVAL_STATUSES, SESSION_ID_PATTERN } from '../../../common/src/index.js';
import type { Approval, ApprovalEvent, ApprovalStatus } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { sendSse, type SseOptions } from './sse.js';

export interface ApprovalRouteOptions extends SseOptions {
  daemon: DaemonClient;
}

const READ: RouteAccess = { scope: 'read', owner: true };
const STREAM: RouteAccess = { ...READ, stream: true };
const DECIDE: RouteAccess = { scope: 'control', owner: true };

const STATUSES = [...APPROVAL_STATUSES, 'all'] as const;

const ts = { type: ['string', 'null'] } as const;
export const approvalSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    session_id: { type: 'string' },
    status: { type: 'string', description: 'pending | approved | rejected | expired' },
    action: {
      type: 'string',
      description:
        'what will run if approved: a shell command exactly as the agent sent it (the action hash covers it), otherwise the normalized action (resolved path, commit message, phase). Agent-controlled text: escape before display, never cut where a human decides',
    },
    normalized: {
      type: 'string',
      description: "the policy engine's analysis of the action (each command of a shell line, normalized, joined by ` ; `, so `a | b` and `a && b` both read `a ; b`); decide on `action`, which is what will run",
    },
    action_kind: { type: 'string' },
    action_hash: { type: 'string' },
    asked_by: { type: 'string', description: 'the rule or autonomy mode that asked' },
    reason: { type: 'string' },
    requested_at: ts,
    expires_at: ts,
    decided_by: { type: ['string', 'null'] },
    decided_at: ts,
    comment: { type: ['string', 'null'] },
    used_at: ts,
    approvals_required: { type: 'integer' },
    approvers: { type: 'array', items: { type: 'string' } },
    distinct_from_starter: { type: 'boolean' },
  },
} as const;

const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: APPROVAL_ID_PATTERN } } } as const;
const decideBody = {
  type: 'object',
  additionalProperties: false,
  properties: { comment: { type: 'string', maxLength: 2000, description: 'why (recorded with the decision and in the audit log)' } },
} as const;

export async function approvalRoutes(app: FastifyInstance, opts: ApprovalRouteOptions): Promise<void> {
  const { daemon } = opts;
  const client = (req: Parameters<typeof callIdentity>[0]) => daemon.forCaller(callIdentity(req));

  app.get<{ Querystring: { session_id?: string; status: ApprovalStatus | 'all' } }>(
    '/api/approvals',
    {
      config: { access: READ },
      schema: {
        summary: 'List approval requests (pending by default), filtered by session and status',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session_id: { type: 'string', pattern: SESSION_ID_PATTERN },
            status: { type: 'string', enum: STATUSES, default: 'pending' },
          },
        },
        response: { 200: { type: 'object', properties: { approvals: { type: 'array', items: approvalSchema } } } },
      },
    },
    async (req) => {
      const approvals: Approval[] = await client(req).approvals.list({ ...(req.query.session_id ? { session_id: req.query.session_id } : {}), status: req.query.status });
      return { approvals };
    },
  );

  // Registered before /:id so the literal path wins (the id pattern would refuse it anyway).
  app.get<{ Querystring: { session_id?: string; pending: boolean } }>(
    '/api/approvals/events',
    {
      config: { access: STREAM },
      schema: {
        summary: 'Watch approvals on SSE: first every pending one (`event: pending`), then requested, decided, expired, consumed',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            session_id: { type: 'string', pattern: SESSION_ID_PATTERN },
            pending: { type: 'boolean', default: true, description: 'start with the approvals pending right now' },
          },
        },
      },
    },
    async (req, reply) => {
      const c = client(req);
      // A foreign or unknown session is a plain 404 before the stream starts.
      if (req.query.session_id) await c.sessions.get(req.query.session_id);
      const q = { ...(req.query.session_id ? { session_id: req.query.session_id } : {}), include_pending: req.query.pending };
      return sendSse(req, reply, (signal) => c.approvals.watch({ ...q, signal }), (e: ApprovalEvent) => ({ event: e.type, data: e }), opts);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/approvals/:id',
    { config: { access: READ }, schema: { summary: 'Show one approval', params: idParams, response: { 200: approvalSchema } } },
    async (req) => client(req).approvals.get(req.params.id),
  );

  for (const verb of ['approve', 'reject'] as const) {
    app.post<{ Params: { id: string }; Body: { comment?: string } | undefined }>(
      `/api/approvals/:id/${verb}`,
      {
        config: { access: DECIDE },
        schema: {
          summary: verb === 'approve' ? 'Let the exact pending action run once' : 'Refuse the pending action',
          params: idParams,
          body: decideBody,
          response: { 200: approvalSchema },
        },
        // `curl -X POST …/approve` without a body must work.
        preValidation: async (req) => {
          req.body ??= {};
        },
      },
      async (req) => {
        const comment = req.body?.comment;
        const c = client(req);
        return verb === 'approve' ? c.approvals.approve(req.params.id, comment ? { comment } : {}) : c.approvals.reject(req.params.id, comment ? { comment } : {});
      },
    );
  }
}
