// docs/api.md is rendered from the OpenAPI document (scripts/gen-api-docs.mjs);
// a test renders it again and fails when the committed file is stale.
import type { OpenApiDocument } from './openapi.js';

type Json = Record<string, unknown>;

const INTRO = `# HTTP API reference

<!-- Generated from the gateway's OpenAPI document by \`node scripts/gen-api-docs.mjs\`. Do not edit by hand. -->

The gateway serves this API over HTTPS (port 57374 by default). The same document is served, for
tools, at \`GET /openapi.json\` (scope \`read\`).

- **Authentication:** \`Authorization: Bearer <token>\` with a Loki API token (\`loki_…\`) or an OIDC
  access token, or the browser session cookie (see [authentication.md](authentication.md)).
  A long-lived credential is **never** accepted in a URL (\`?token=\`, \`?access_token=\` answer \`401\`).
- **Streams (SSE, WebSocket):** browsers, which cannot set headers on \`EventSource\`/\`WebSocket\`,
  first \`POST /api/auth/stream-ticket\` with \`{"path": "<stream path>"}\` and open the stream with
  \`?ticket=<ticket>\`. A ticket is single-use, valid for 60 s, and only for that path and the subject
  that asked for it. SSE routes send \`X-Accel-Buffering: no\`, a \`: heartbeat\` comment every 15 s, and
  event ids; reconnect with \`Last-Event-ID\` to resume without gaps. A stream that cannot go on ends
  with an \`event: error\` frame whose data is the Loki error, on every stream
  \`{"error": {"code", "message", "request_id"}}\` (a session's event stream, \`/api/events\` and
  \`/api/sessions/:id/events\`, also repeats \`"code"\` and \`"message"\` at the top level, the shape it
  had before; read \`error\`), then the end: \`daemon_unavailable\` when lokid went away or stopped
  answering (within 20 s of a hung lokid: the gateway pings it every 10 s while a stream is open;
  reconnect with \`Last-Event-ID\`; until lokid is back the reconnect answers \`503\`
  \`daemon_unavailable\`), \`unauthenticated\` when the credential it was opened with was revoked, expired
  or signed out (checked every 5 s; sign in again rather than reconnect, which answers \`401\`).
- **Authorization:** each route needs one scope (\`*\`, \`control\`, \`write\`, \`read\`, \`audit\`; see
  [authorization.md](authorization.md)). Owner-scoped resources (sessions, sandboxes, approvals) are
  visible only to their owner or a \`*\` holder; the daemon re-checks this on every call, and answers
  \`404\` for "not yours" exactly as for "does not exist".
- **Responses:** JSON, snake_case. Lists come in an envelope named after the resource
  (\`{"sessions": […]}\`). Times are ISO-8601 (UTC) or \`null\`.
- **Errors:** \`{"error": {"code": "…", "message": "…", "request_id": "…"}}\` with the HTTP status of the
  code's kind ([errors.md](errors.md)). Invalid input is \`400\` and the message names the field.
`;

function typeOf(s: unknown): string {
  const j = (s ?? {}) as Json;
  const t = j.type;
  let base: string;
  if (Array.isArray(j.enum)) base = (j.enum as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
  else if (Array.isArray(t)) base = t.join(' \\| ');
  else if (t === 'array') base = `${typeOf(j.items)}[]`;
  else if (typeof t === 'string') base = t;
  else base = 'any';
  const bounds: string[] = [];
  if (typeof j.minimum === 'number') bounds.push(`≥ ${j.minimum}`);
  if (typeof j.maximum === 'number') bounds.push(`≤ ${j.maximum}`);
  if (typeof j.maxLength === 'number') bounds.push(`≤ ${j.maxLength} chars`);
  if (typeof j.maxItems === 'number') bounds.push(`≤ ${j.maxItems} items`);
  if (j.default !== undefined) bounds.push(`default ${JSON.stringify(j.default)}`);
  return bounds.length ? `${base} (${bounds.join(', ')})` : base;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function fieldsTable(schema: unknown): string[] {
  const s = (schema ?? {}) as { properties?: Record<string, Json>; required?: string[] };
  const props = Object.entries(s.properties ?? {});
  if (!props.length) return [];
  const rows = props.map(([name, p]) => `| \`${name}\` | ${typeOf(p)} | ${(s.required ?? []).includes(name) ? 'yes' : ''} | ${cell(typeof p.description === 'string' ? p.description : '')} |`);
  return ['| field | type | required | notes |', '|---|---|---|---|', ...rows];
}

function renderOperation(method: string, path: string, op: Json): string[] {
  const out: string[] = [`### \`${method.toUpperCase()} ${path}\``, '', String(op.summary ?? '')];
  if (typeof op.description === 'string') out.push('', op.description);
  const stream = op['x-loki-stream'];
  out.push(
    '',
    `Scope: \`${String(op['x-loki-scope'])}\`` +
      (op['x-loki-owner-scoped'] ? ' · owner-scoped' : '') +
      ` · rate limit: ${String(op['x-loki-rate-limit'])}` +
      (stream ? ` · ${stream === 'sse' ? 'Server-Sent Events' : 'WebSocket'} (also \`?ticket=\`)` : ''),
  );
  const params = ((op.parameters ?? []) as Json[]).filter((p) => p.name !== 'ticket');
  if (params.length) {
    out.push('', '| parameter | in | type | required | notes |', '|---|---|---|---|---|');
    for (const p of params) out.push(`| \`${String(p.name)}\` | ${String(p.in)} | ${typeOf(p.schema)} | ${p.required ? 'yes' : ''} | ${cell(typeof p.description === 'string' ? p.description : '')} |`);
  }
  const body = (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.['application/json']?.schema;
  const bodyRows = fieldsTable(body);
  if (bodyRows.length) out.push('', 'Request body (JSON):', '', ...bodyRows);
  const responses = (op.responses ?? {}) as Record<string, Json>;
  const ok = Object.entries(responses).filter(([code]) => /^[12]/.test(code));
  for (const [code, r] of ok) {
    const content = (r.content ?? {}) as Record<string, { schema?: Json }>;
    const json = content['application/json']?.schema;
    const props = json?.properties as Record<string, Json> | undefined;
    if (props && Object.keys(props).length) out.push('', `\`${code}\` response:`, '', ...fieldsTable(json));
    else out.push('', `\`${code}\`: ${String(r.description ?? '')}`);
  }
  const errors = Object.keys(responses).filter((c) => /^[45]/.test(c));
  if (errors.length) out.push('', `Errors: ${errors.map((c) => `\`${c}\``).join(', ')}`);
  out.push('');
  return out;
}

export function renderApiMarkdown(doc: OpenApiDocument): string {
  const out: string[] = [INTRO];
  const byTag = new Map<string, [string, string, Json][]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = ((op.tags as string[] | undefined) ?? ['other'])[0]!;
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)!.push([method, path, op]);
    }
  }
  out.push('## Routes', '', '| method | path | scope | summary |', '|---|---|---|---|');
  for (const t of doc.tags) {
    for (const [method, path, op] of byTag.get(t.name) ?? []) out.push(`| ${method.toUpperCase()} | \`${path}\` | \`${String(op['x-loki-scope'])}\` | ${cell(String(op.summary ?? ''))} |`);
  }
  out.push('');
  for (const t of doc.tags) {
    out.push(`## ${t.name}`, '', t.description, '');
    for (const [method, path, op] of byTag.get(t.name) ?? []) out.push(...renderOperation(method, path, op));
  }
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

export const ROUTE_TABLE_BEGIN = '<!-- route-table:begin (generated from /openapi.json by scripts/gen-api-docs.mjs) -->';
export const ROUTE_TABLE_END = '<!-- route-table:end -->';

/** The route → scope table of docs/authorization.md, from the same document. */
export function renderRouteTable(doc: OpenApiDocument): string {
  const rows: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const stream = op['x-loki-stream'];
      rows.push(
        `| \`${method.toUpperCase()}\` | \`${path}\` | ${op['x-loki-scope'] === 'public' ? 'public' : `\`${String(op['x-loki-scope'])}\``} | ${op['x-loki-owner-scoped'] ? 'yes' : 'no'} | ${String(op['x-loki-rate-limit'])} | ${stream ? String(stream) : ''} | ${cell(String(op.summary ?? ''))} |`,
      );
    }
  }
  return [ROUTE_TABLE_BEGIN, '| method | path | scope | owner-scoped | rate limit | stream | what |', '|---|---|---|---|---|---|---|', ...rows, ROUTE_TABLE_END].join('\n');
}

/** Replaces the generated table between the markers of `text`; throws when the markers are missing. */
export function spliceRouteTable(text: string, doc: OpenApiDocument): string {
  const a = text.indexOf(ROUTE_TABLE_BEGIN);
  const b = text.indexOf(ROUTE_TABLE_END);
  if (a < 0 || b < a) throw new Error('docs/authorization.md has no route-table markers');
  return text.slice(0, a) + renderRouteTable(doc) + text.slice(b + ROUTE_TABLE_END.length);
}
