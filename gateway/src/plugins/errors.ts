// Every error leaves the gateway through here as
// {"error":{"code","message","request_id"}} with the status from the one
// kind table (common/src/errors.ts). Client mistakes never become 500.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LokiError, malformedRef, refKindOfPattern, scrubSecrets } from '../../../common/src/index.js';

export interface ErrorBody {
  error: { code: string; message: string; request_id: string };
}

/** Fields that hold a reference (an id); a pattern failure on one is answered like lokid answers it. */
const REF_FIELDS = new Set(['id', 'session_id', 'project']);

/**
 * A malformed session, approval, sandbox or project reference in the path, query or body gets
 * the daemon's own words for it (common/src/refs.ts), not the schema's pattern: the same
 * mistake reads the same through the gateway as on lokid's sockets.
 */
function malformedRefError(fe: { validation?: unknown[]; validationContext?: unknown }, req: FastifyRequest | undefined): LokiError | undefined {
  const first = fe.validation?.[0] as { keyword?: unknown; instancePath?: unknown; params?: { pattern?: unknown } } | undefined;
  if (!req || first?.keyword !== 'pattern' || typeof first.instancePath !== 'string') return undefined;
  const kind = refKindOfPattern(first.params?.pattern);
  const field = first.instancePath.split('/').pop() ?? '';
  if (!kind || !REF_FIELDS.has(field)) return undefined;
  const source = { params: req.params, querystring: req.query, body: req.body }[String(fe.validationContext)] as Record<string, unknown> | undefined;
  const value = source?.[field];
  if (typeof value !== 'string') return undefined;
  const e = malformedRef(kind, value);
  // A path segment is the id the user typed (the CLI's words exactly); a body or query field is named.
  return fe.validationContext === 'params' ? e : new LokiError('invalid_argument', `${field}: ${e.message}`);
}

/** Maps anything thrown by Fastify, a plugin or a handler to a LokiError. */
export function classify(err: unknown, req?: FastifyRequest): LokiError {
  if (err instanceof LokiError) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown[] };
  if (fe.validation) {
    const ref = malformedRefError(fe, req);
    if (ref) return ref;
    // Fastify's message already names the field: "body/name must be string".
    return new LokiError('invalid_argument', `invalid request: ${fe.message ?? 'validation failed'}`);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new LokiError('payload_too_large', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new LokiError('invalid_argument', 'unsupported Content-Type; send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new LokiError('invalid_argument', 'the request body is empty but Content-Type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new LokiError('invalid_argument', 'the request body is not valid JSON');
    default:
      break;
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 404) return new LokiError('not_found', 'no such route');
  if (status === 413) return new LokiError('payload_too_large', 'request body is too large');
  if (err instanceof SyntaxError || (status >= 400 && status < 500)) {
    return new LokiError('invalid_argument', `invalid request: ${scrubSecrets(fe.message ?? 'bad request')}`);
  }
  return new LokiError('internal', 'internal error', { cause: err });
}

/** The gRPC transport's own words for a failed call (details, else message), secrets scrubbed, bounded. */
function transportDetail(cause: unknown): string | undefined {
  const c = cause as { details?: unknown; message?: unknown } | undefined;
  const text = typeof c?.details === 'string' && c.details ? c.details : typeof c?.message === 'string' ? c.message : undefined;
  return text === undefined ? undefined : scrubSecrets(text).slice(0, 500);
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: LokiError): FastifyReply {
  const body: ErrorBody = { error: { code: err.code, message: err.message, request_id: req.id } };
  if (err.kind === 'unauthenticated') reply.header('www-authenticate', 'Bearer realm="loki"');
  // Also set by the security plugin, but errors raised before its hook (router rejections) need it too.
  reply.header('x-request-id', req.id);
  return reply.code(err.httpStatus).type('application/json; charset=utf-8').send(body);
}

export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err, req, reply) => {
      const le = classify(err, req);
      if (le.kind === 'internal') req.log.error({ err: le.cause ?? le }, 'request failed');
      // The client is told only that the daemon is unreachable; the operator needs why (refused, no socket,
      // a certificate that does not name daemon.tls.server_name, …), which only the transport's error says.
      else if (le.code === 'daemon_unavailable') req.log.warn({ code: le.code, msg_detail: le.message, daemon_error: transportDetail(le.cause) }, 'request rejected');
      else req.log.info({ code: le.code, msg_detail: le.message }, 'request rejected');
      return sendError(req, reply, le);
    });
    app.setNotFoundHandler((req, reply) => sendError(req, reply, new LokiError('not_found', `no route ${req.method} ${scrubSecrets(req.url.split('?')[0] ?? '').slice(0, 200)}`)));
  },
  { name: 'loki-errors' },
);
