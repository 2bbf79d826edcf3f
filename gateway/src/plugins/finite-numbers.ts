// Ajv coerces "1e400" (query) and 1e400 (JSON body) to Infinity and then lets
// it pass `type: integer`, `minimum` and `maximum` alike, so a bounded field
// could still reach the daemon as Infinity (and fail there as a 500). After
// validation, every number in params, query and body must be finite.
// The check is attached per route, only where a number can appear: a route
// that takes a body (JSON.parse turns 1e400 into Infinity in any field), or
// whose params/querystring schema declares a number (only then does Ajv coerce).
// A read like GET /api/sessions (one boolean) pays nothing.
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { LokiError } from '../../../common/src/index.js';

const MAX_DEPTH = 8;
const NO_BODY = new Set(['GET', 'HEAD']);

function findNonFinite(v: unknown, path: string, depth: number): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path;
  if (depth >= MAX_DEPTH || v === null || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const hit = findNonFinite(x, `${path}/${k}`, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

/** True when a schema (any depth, any combinator) lets Ajv coerce a value to a number. */
function declaresNumber(schema: unknown): boolean {
  return schema !== undefined && /"(number|integer)"/.test(JSON.stringify(schema) ?? '');
}

export function needsFiniteCheck(route: Pick<RouteOptions, 'method' | 'schema'>): boolean {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((m) => !NO_BODY.has(String(m).toUpperCase()))) return true;
  const s = route.schema as { params?: unknown; querystring?: unknown; query?: unknown } | undefined;
  return declaresNumber(s?.params) || declaresNumber(s?.querystring) || declaresNumber(s?.query);
}

async function checkFinite(req: FastifyRequest): Promise<void> {
  const hit = findNonFinite(req.params, 'params', 0) ?? findNonFinite(req.query, 'querystring', 0) ?? findNonFinite(req.body, 'body', 0);
  if (hit) throw new LokiError('invalid_argument', `invalid request: ${hit.slice(0, 120)} must be a finite number`);
}

export const finiteNumbersPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('onRoute', (route) => {
      if (!needsFiniteCheck(route)) return;
      const own = route.preHandler;
      // First, before any route-level preHandler sees the values.
      route.preHandler = own === undefined ? [checkFinite] : [checkFinite, ...(Array.isArray(own) ? own : [own])];
    });
  },
  { name: 'loki-finite-numbers' },
);
