// The OpenAPI walk: every route the gateway serves is in /openapi.json (and the
// other way round); every non-health route answers 401 without credentials and
// 403 with a token that lacks its scope; docs/api.md is the current rendering.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../common/src/index.js';
import { createOidcAuthenticator } from '../../gateway/src/auth/oidc/index.js';
import { describeGatewayApi } from '../../gateway/src/openapi-doc.js';
import { renderApiMarkdown, spliceRouteTable } from '../../gateway/src/openapi-markdown.js';
import type { OpenApiDocument } from '../../gateway/src/openapi.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

// By path, or by "METHOD path" where the same path has a guarded method too (GET /auth/session is `read`).
// The web dashboard's shell and hashed assets hold no data; POST /auth/session is its token sign-in.
const PUBLIC = new Set(['/health', '/healthz/live', '/healthz/ready', '/auth/oidc/login', '/auth/oidc/callback', '/auth/logout', '/', '/assets/:name', 'POST /auth/session', 'GET /auth/methods']);
const repoRoot = join(process.cwd());

describe('OpenAPI document', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let admin: string;
  let auditOnly: string;
  let controlOnly: string;
  let doc: OpenApiDocument;
  before(async () => {
    daemon = await startTestDaemon();
    admin = (await generateToken(daemon.adminSocket, { name: 'admin', role: 'admin' })).secret;
    auditOnly = (await generateToken(daemon.adminSocket, { name: 'audit-only', scopes: ['audit'] })).secret;
    controlOnly = (await generateToken(daemon.adminSocket, { name: 'control-only', scopes: ['control'] })).secret;
    const log = createLogger({ name: 'openapi', level: 'silent' });
    const oidc = createOidcAuthenticator({}, { log, secureCookies: false, publicBaseUrl: 'http://127.0.0.1:57374', routeConfig: { access: { scope: 'public' } } });
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } },
      deps: { oidc },
    });
    const r = await gw.app.inject({ url: '/openapi.json', headers: bearer(admin) });
    assert.equal(r.statusCode, 200);
    doc = r.json();
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  const walk = () => gw.app.loki.routes.filter((r) => r.method !== 'HEAD');
  const concrete = (url: string) => url.replace(/:(\w+)/g, 'x');

  it('is OpenAPI 3.1 and lists every route the gateway serves, and nothing else', () => {
    assert.equal(doc.openapi, '3.1.0');
    const served = new Set(walk().map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`));
    const listed = new Set(Object.entries(doc.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m} ${p}`)));
    assert.deepEqual([...served].sort(), [...listed].sort());
    assert.ok(served.size >= 20, `only ${served.size} routes`);
    for (const must of ['post /api/auth/stream-ticket', 'get /openapi.json', 'get /api/sessions', 'get /api/events']) assert.ok(listed.has(must), must);
  });

  it('declares the scope of every operation and a bearer requirement on every non-public one', () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(methods)) {
        const scope = op['x-loki-scope'];
        assert.ok(typeof scope === 'string' && scope.length, `${m} ${path} has no scope`);
        if (scope === 'public') assert.deepEqual(op.security, [], `${m} ${path}`);
        else assert.ok((op.security as object[]).some((s) => 'bearer' in s), `${m} ${path} has no bearer security`);
      }
    }
  });

  it('answers 401 without credentials on every route except health, sign-in and the dashboard shell', async () => {
    let n = 0;
    for (const r of walk()) {
      const res = await gw.app.inject({ method: r.method as 'GET', url: concrete(r.url), ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }) });
      if (PUBLIC.has(r.url) || PUBLIC.has(`${r.method} ${r.url}`)) {
        assert.notEqual(res.statusCode, 401, `${r.method} ${r.url} is public`);
        continue;
      }
      assert.equal(res.statusCode, 401, `${r.method} ${r.url} answered ${res.statusCode} without credentials`);
      assert.equal(res.json().error.code, 'unauthenticated');
      n += 1;
    }
    assert.ok(n >= 15, `only ${n} routes walked`);
  });

  it('answers 403 on every non-public route to a token that lacks its scope', async () => {
    let n = 0;
    for (const r of walk()) {
      if (r.access.scope === 'public') continue;
      // audit-only lacks read/write/control/*; control-only lacks audit and *.
      const token = r.access.scope === 'audit' || r.access.scope === '*' ? controlOnly : auditOnly;
      const res = await gw.app.inject({ method: r.method as 'GET', url: concrete(r.url), headers: bearer(token), ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }) });
      assert.equal(res.statusCode, 403, `${r.method} ${r.url} (needs ${r.access.scope}) answered ${res.statusCode}`);
      assert.match(res.json().error.message, new RegExp(`"${r.access.scope === '*' ? '\\*' : r.access.scope}" scope`));
      n += 1;
    }
    assert.ok(n >= 15, `only ${n} routes walked`);
  });

  it('is itself behind the read scope', async () => {
    assert.equal((await gw.app.inject({ url: '/openapi.json' })).statusCode, 401);
    assert.equal((await gw.app.inject({ url: '/openapi.json', headers: bearer(auditOnly) })).statusCode, 403);
  });

  it('documents stream routes with the ticket parameter and their event-stream answer', () => {
    const op = doc.paths['/api/sessions/{id}/events']?.get;
    assert.ok(op);
    assert.equal(op['x-loki-stream'], 'sse');
    assert.ok((op.parameters as { name: string }[]).some((p) => p.name === 'ticket'));
    assert.ok((op.responses as Record<string, { content?: object }>)['200']?.content && 'text/event-stream' in (op.responses as Record<string, { content: object }>)['200']!.content);
  });

  it('keeps docs/api.md and the route table of docs/authorization.md equal to the rendering of the current document', async () => {
    const current = await describeGatewayApi();
    const api = readFileSync(join(repoRoot, 'docs/api.md'), 'utf8');
    assert.ok(api === renderApiMarkdown(current), 'docs/api.md is stale: run `npm run build && node scripts/gen-api-docs.mjs`');
    const authz = readFileSync(join(repoRoot, 'docs/authorization.md'), 'utf8');
    assert.ok(authz === spliceRouteTable(authz, current), 'docs/authorization.md route table is stale: run `npm run build && node scripts/gen-api-docs.mjs`');
  });

  it('describes the same routes the live gateway serves (the generated docs are of the real app)', async () => {
    const current = await describeGatewayApi();
    assert.deepEqual(Object.keys(current.paths).sort(), Object.keys(doc.paths).sort());
  });
});
