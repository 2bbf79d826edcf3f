// Ajv coerces "1e400" (query) and 1e400 (JSON body) to Infinity and then lets
// it pass `type: integer`, `minimum` and `maximum` alike, so a bounded field
// could still reach the daemon as Infinity (and fail there as a 500). After
// validation, every number in params, query and body must be finite.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { LokiError } from '../../../common/src/index.js';

const MAX_DEPTH = 8;

function findNonFinite(v: unknown, path: string, depth: number): string | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : path;
  if (depth >= MAX_DEPTH || v === null || typeof v !== 'object') return undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const hit = findNonFinite(x, `${path}/${k}`, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

export const finiteNumbersPlugin = fp(
  async (app: FastifyInstance) => {
    app.addHook('preHandler', async (req) => {
      const hit = findNonFinite(req.params, 'params', 0) ?? findNonFinite(req.query, 'querystring', 0) ?? findNonFinite(req.body, 'body', 0);
      if (hit) throw new LokiError('invalid_argument', `invalid request: ${hit.slice(0, 120)} must be a finite number`);
    });
  },
  { name: 'loki-finite-numbers' },
);
