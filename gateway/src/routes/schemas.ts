// Shared JSON-schema pieces for route inputs. Every numeric query/body field is
// bounded on both sides, so nothing a client sends can overflow what the daemon
// (int64 in protobuf, exact integers in JS) can carry: out of range, negative,
// fractional or non-numeric values are a 400 that names the field, never a 500.
import { LokiError } from '../../../common/src/index.js';

/** The largest integer JavaScript holds exactly; the daemon's int64 cursors never exceed it. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** An integer in [min, max]; Fastify's validator names the field in its 400. */
export function intField(min: number, max: number): { type: 'integer'; minimum: number; maximum: number } {
  return { type: 'integer', minimum: min, maximum: max };
}

/** A sequence cursor (audit `cursor`, event `after`): 0 … 2^53-1. */
export const cursorField = intField(0, MAX_SAFE);

/** Parses an integer header (e.g. Last-Event-ID) with the same rules; throws invalid_argument naming the header. */
export function intHeader(value: string | string[] | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const v = Array.isArray(value) ? value[0]! : value;
  const n = /^-?\d{1,16}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new LokiError('invalid_argument', `${name} must be an integer between ${min} and ${max}`);
  return n;
}

/**
 * Re-checks a validated integer in the handler. Ajv's type coercion turns the
 * query string "Infinity" (and a JSON "1e400") into Infinity and lets it past
 * `integer`/`maximum`; this closes that hole for every numeric field.
 */
export function intParam(value: number | undefined, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new LokiError('invalid_argument', `invalid request: ${field} must be an integer between ${min} and ${max}`);
  return value;
}
