// Loki Mode's audit API (audit scope): /api/enterprise/audit and /summary,
// served from the daemon's AuditService.
import type { FastifyInstance } from 'fastify';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import type { RouteAccess } from './access.js';
import { MAX_SAFE, cursorField, intField, intParam } from './schemas.js';

const AUDIT: RouteAccess = { scope: 'audit' };
const isoString = { type: 'string', maxLength: 40, pattern: '^\\d{4}-\\d{2}-\\d{2}' } as const;

interface QueryParams {
  limit?: number;
  action?: string;
  user?: string;
  result?: 'success' | 'denied' | 'error';
  since?: string;
  until?: string;
  cursor?: number;
}

export async function auditRoutes(app: FastifyInstance, opts: { daemon: DaemonClient }): Promise<void> {
  app.get<{ Querystring: QueryParams }>(
    '/api/enterprise/audit',
    {
      config: { access: AUDIT },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: intField(1, 1000),
            action: { type: 'string', maxLength: 64 },
            user: { type: 'string', maxLength: 256 },
            result: { type: 'string', enum: ['success', 'denied', 'error'] },
            since: isoString,
            until: isoString,
            cursor: cursorField,
          },
        },
      },
    },
    async (req) => {
      const q = req.query;
      intParam(q.limit, 'querystring/limit', 1, 1000);
      intParam(q.cursor, 'querystring/cursor', 0, MAX_SAFE);
      const r = await opts.daemon.queryAudit(
        {
          limit: q.limit ?? 100,
          ...(q.action ? { action: q.action } : {}),
          ...(q.user ? { user: q.user } : {}),
          ...(q.result ? { result: q.result } : {}),
          ...(q.since ? { since: q.since } : {}),
          ...(q.until ? { until: q.until } : {}),
          ...(q.cursor ? { cursor: q.cursor } : {}),
        },
        callIdentity(req),
      );
      return {
        entries: r.entries.map((e) => ({
          timestamp: e.timestamp,
          action: e.action,
          user: e.user,
          resource: e.resource,
          details: e.details,
          ip: e.ip,
          result: e.result,
          reason: e.reason || undefined,
          request_id: e.requestId || undefined,
          seq: e.seq,
        })),
        next_cursor: r.nextCursor || null,
      };
    },
  );

  app.get<{ Querystring: { since?: string; until?: string } }>(
    '/api/enterprise/audit/summary',
    {
      config: { access: AUDIT },
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { since: isoString, until: isoString } } },
    },
    async (req) => {
      const s = await opts.daemon.auditSummary(
        { ...(req.query.since ? { since: req.query.since } : {}), ...(req.query.until ? { until: req.query.until } : {}) },
        callIdentity(req),
      );
      return { total: s.total, by_action: s.byAction, by_user: s.byUser, by_result: s.byResult, since: s.since, until: s.until };
    },
  );

  app.get(
    '/api/enterprise/audit/verify',
    {
      config: { access: AUDIT },
      schema: {
        summary: 'Check the HMAC chain of every audit file (reads the whole log: seconds on a large one)',
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              entries: { type: 'integer' },
              files: { type: 'integer' },
              last_seq: { type: 'integer' },
              last_mac: { type: 'string' },
              file: { type: 'string' },
              line: { type: 'integer' },
              seq: { type: 'integer' },
              reason: { type: 'string' },
            },
          },
        },
      },
    },
    async (req) => opts.daemon.forCaller(callIdentity(req)).audit.verify(),
  );
}
