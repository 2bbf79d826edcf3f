// Adversarial sweep of the gateway HTTP API: every route in the census gets
// hostile input (malformed JSON, wrong types, huge bodies, odd path params,
// junk credentials…). The house rule under test: bad input gets a clear JSON
// error with a 4xx (or a documented 503), never a 500, and no secret is logged.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { sessionRouteGroups } from '../../gateway/src/routes/control.js';
import { bearer, buildTestGateway, captureLogger, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

const BODY_LIMIT = 4096;
const LONG = 'x'.repeat(10_000);
const HOSTILE_STRINGS = ['', LONG, 'é漢字🙂', 'a\u0000b', 'a\r\nX-Evil: 1', '\u202e\u0007\u001b[31m', '../../etc/passwd'];
const HOSTILE_VALUES: unknown[] = [...HOSTILE_STRINGS, 0, -1, 1.5, 1e308, true, null, [], {}, ['x'], { $ne: 1 }];
const HOSTILE_PARAMS = ['..%2F..%2Fetc', '%00', '%2e%2e', 'ses-%00', 'a'.repeat(1000), '%E2%80%AE', '%ZZ', 'ses-000000000000%0A'];

interface Finding {
  what: string;
  status: number;
  body: string;
}

interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

/** One request with the path sent byte for byte as given. */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path.slice(0, 60)}: no answer within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

function problem(r: Answer): string | undefined {
  if (r.statusCode >= 500 && r.statusCode !== 503) return `status ${r.statusCode}`;
  if (!r.headers['x-request-id']) return 'no X-Request-Id';
  if (r.statusCode < 400) return undefined;
  let body: { error?: { code?: unknown; message?: unknown; request_id?: unknown } };
  try {
    body = JSON.parse(r.body) as typeof body;
  } catch {
    return 'error body is not JSON';
  }
  const e = body.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || typeof e.request_id !== 'string') return 'error body lacks code/message/request_id';
  if (e.code === 'internal') return 'code internal';
  if (/\n\s+at /.test(e.message)) return 'stack trace in message';
  // The daemon's audit writer refusing its own event means the real error (and the audit entry) was lost.
  if (/audit event/.test(e.message)) return `audit write failed instead of the real error: ${e.message}`;
  return undefined;
}

describe('gateway bad-input sweep', function () {
  this.timeout(60_000);
  let daemon: TestDaemon;
  let gw: TestGateway;
  let secret: string;
  let client: DaemonClient;
  const logs = captureLogger('debug');
  const findings: Finding[] = [];
  const auth = () => bearer(secret);

  async function probe(what: string, opts: InjectOptions): Promise<LightMyRequestResponse> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, 5000, undefined)));
    const r = await Promise.race([gw.app.inject(opts), hung]);
    clearTimeout(timer);
    if (!r) {
      findings.push({ what: `${what}: no answer within 5 s`, status: 0, body: '' });
      return { statusCode: 0, headers: {}, body: '' } as unknown as LightMyRequestResponse;
    }
    const p = problem(r);
    if (p) findings.push({ what: `${what}: ${p}`, status: r.statusCode, body: r.body.slice(0, 300) });
    return r;
  }

  function assertNoFindings(): void {
    const list = findings.splice(0);
    assert.deepEqual(list, [], `hostile inputs that broke the rule:\n${list.map((f) => `  ${f.what} → ${f.status} ${f.body}`).join('\n')}`);
  }

  const concrete = (url: string, id = 'ses-000000000000') => url.replace(/:[A-Za-z_]+/g, id);
  const mutating = (m: string) => m === 'POST' || m === 'PUT' || m === 'PATCH' || m === 'DELETE';

  before(async () => {
    daemon = await startTestDaemon();
    secret = (await generateToken(daemon.adminSocket, { name: 'sweeper', role: 'admin' })).secret;
    // The session/control groups need the client before the app exists, so the test owns one.
    client = createDaemonClient({ socketPath: daemon.gatewaySocket, timeoutMs: 3000 });
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      logger: logs.logger,
      // Limits out of the way: a 429 would hide what the route itself does with the input.
      raw: {
        body_limit_bytes: BODY_LIMIT,
        rate_limit: { per_minute: 1_000_000, burst: 1_000_000, unauthenticated_per_minute: 1_000_000, lockout_failures: 1_000_000 },
      },
      deps: { daemon: client, routes: sessionRouteGroups(client) },
    });
  });
  after(async () => {
    await gw?.close();
    client?.close();
    await daemon?.close();
  });

  it('walks a route table that includes the session, control, token and audit routes', () => {
    const urls = gw.app.loki.routes.map((r) => `${r.method} ${r.url}`);
    for (const u of ['GET /api/sessions/:id/events', 'POST /api/control/start', 'POST /api/enterprise/tokens', 'DELETE /api/enterprise/tokens/:id', 'GET /api/enterprise/audit']) {
      assert.ok(urls.includes(u), `${u} missing from ${urls.join(', ')}`);
    }
  });

  it('answers malformed, mistyped, oversized and unknown bodies on every route with a JSON 4xx', async () => {
    for (const r of gw.app.loki.routes) {
      if (r.method === 'HEAD' || r.method === 'OPTIONS') continue;
      // follow=false: a stream route answers and ends instead of tailing forever.
      const url = concrete(r.url) + (r.access.stream ? '?follow=false' : '');
      const name = `${r.method} ${r.url}`;
      const json = { ...auth(), 'content-type': 'application/json' };
      if (!mutating(r.method)) {
        // A body on a GET is ignored or refused, never a crash.
        await probe(`${name} junk body`, { method: r.method as 'GET', url, headers: json, payload: '{"a":' });
        continue;
      }
      await probe(`${name} malformed JSON`, { method: r.method as 'POST', url, headers: json, payload: '{"name": "x",' });
      await probe(`${name} JSON null`, { method: r.method as 'POST', url, headers: json, payload: 'null' });
      await probe(`${name} JSON array`, { method: r.method as 'POST', url, headers: json, payload: '[1,2]' });
      await probe(`${name} JSON string`, { method: r.method as 'POST', url, headers: json, payload: '"x"' });
      await probe(`${name} empty JSON body`, { method: r.method as 'POST', url, headers: json, payload: '' });
      await probe(`${name} proto pollution`, { method: r.method as 'POST', url, headers: json, payload: '{"__proto__":{"x":1},"constructor":{"prototype":{"y":1}}}' });
      await probe(`${name} text/plain`, { method: r.method as 'POST', url, headers: { ...auth(), 'content-type': 'text/plain' }, payload: 'hello' });
      await probe(`${name} form`, { method: r.method as 'POST', url, headers: { ...auth(), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=1' });
      await probe(`${name} odd content-type`, { method: r.method as 'POST', url, headers: { ...auth(), 'content-type': 'application/json; charset=ebcdic' }, payload: '{}' });
      await probe(`${name} huge body`, { method: r.method as 'POST', url, headers: json, payload: JSON.stringify({ name: 'x'.repeat(BODY_LIMIT * 4) }) });
      await probe(`${name} unknown field`, { method: r.method as 'POST', url, headers: json, payload: { nope: 1 } });
      await probe(`${name} deep nesting`, { method: r.method as 'POST', url, headers: json, payload: '['.repeat(1500) + ']'.repeat(1500) });
    }
    assertNoFindings();
  });

  it('answers every wrong type and hostile string in every body field with a JSON 4xx', async () => {
    const fields: Record<string, string[]> = {
      'POST /api/enterprise/tokens': ['name', 'scopes', 'role', 'expires_days'],
      // "project" keeps the daemon from starting a real session when the rest happens to be valid.
      'POST /api/control/start': ['prd', 'prompt', 'provider', 'plan', 'profile', 'autonomy', 'project', 'model', 'base_url', 'max_iterations', 'network', 'sandbox'],
      'POST /api/control/stop': ['session_id'],
      'POST /api/control/pause': ['session_id'],
      'POST /api/control/resume': ['session_id'],
    };
    const base: Record<string, Record<string, unknown>> = {
      'POST /api/enterprise/tokens': { name: 'sweep' },
      'POST /api/control/start': { prompt: 'do it', project: 'no-such-project' },
    };
    let n = 0;
    for (const [route, names] of Object.entries(fields)) {
      const [method, url] = route.split(' ') as ['POST', string];
      for (const f of names) {
        for (const v of HOSTILE_VALUES) {
          // A fresh name each time, so an earlier accidental success cannot turn later probes into 409s.
          const fresh = route === 'POST /api/enterprise/tokens' ? { name: `sweep-${++n}` } : {};
          const r = await probe(`${route} ${f}=${JSON.stringify(v).slice(0, 30)}`, { method, url, headers: auth(), payload: { ...(base[route] ?? {}), ...fresh, [f]: v } });
          // Nothing hostile may create a token. Accepted on purpose: an empty or null optional
          // field means "not given", expires_days 0/-1 are documented, and Fastify's type
          // coercion (test/gateway/http.test.ts relies on it) turns 0, true, ["x"] into strings.
          const coerced = typeof v === 'number' || typeof v === 'boolean' || (Array.isArray(v) && v.length === 1);
          const notGiven = f !== 'name' && (v === '' || v === null || (Array.isArray(v) && !v.length));
          if (route === 'POST /api/enterprise/tokens' && !notGiven && !coerced) assert.notEqual(r.statusCode, 201, `${f}=${JSON.stringify(v).slice(0, 40)} created a token`);
        }
      }
    }
    assertNoFindings();
  });

  it('answers hostile path parameters on every parameterised route with a JSON 4xx (over a real socket)', async () => {
    // A real socket: inject() parses the URL like a browser and would fold %2e%2e into "..".
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (gw.app.server.address() as AddressInfo).port;
    for (const r of gw.app.loki.routes.filter((x) => x.url.includes(':') && x.method !== 'HEAD')) {
      for (const p of HOSTILE_PARAMS) {
        const path = r.url.replace(/:[A-Za-z_]+/g, p) + (r.access.stream ? '?follow=false' : '');
        const res = await rawRequest(port, r.method, path, auth());
        const what = `${r.method} ${path.slice(0, 60)}`;
        const bad = problem(res);
        if (bad) findings.push({ what: `${what}: ${bad}`, status: res.statusCode, body: res.body.slice(0, 300) });
        assert.ok(res.statusCode >= 400, `${what} answered ${res.statusCode}`);
      }
    }
    assertNoFindings();
  });

  it('answers bad query parameters on every GET route with a JSON 4xx', async () => {
    const queries = ['limit=-1', 'limit=abc', 'limit=99999999999999999999', 'since=notadate', 'until=%00', 'after=-5', 'after=abc', 'follow=maybe', 'all=yes', 'cursor=-1', 'result=maybe', 'nope=1', 'limit=1&limit=2', 'a'.repeat(5000) + '=1', '%ZZ=1'];
    for (const r of gw.app.loki.routes.filter((x) => x.method === 'GET')) {
      for (const q of queries) {
        await probe(`GET ${r.url}?${q.slice(0, 40)}`, { method: 'GET', url: `${concrete(r.url)}?${q}`, headers: auth() });
      }
    }
    assertNoFindings();
  });

  it('rejects junk, empty, huge and non-ASCII bearer credentials with a JSON 401 and never logs them', async () => {
    const junk = ['Bearer', 'Bearer ', 'Bearer junk', `Bearer ${'A'.repeat(10 * 1024)}`, 'Bearer tökén-ü', 'Basic dXNlcjpwYXNz', 'bearer   ', `Bearer ${secret}x`, 'Bearer a b c'];
    const guarded = gw.app.loki.routes.filter((r) => r.access.scope !== 'public' && r.method !== 'HEAD');
    for (const r of guarded) {
      for (const a of junk) {
        const res = await probe(`${r.method} ${r.url} Authorization: ${a.slice(0, 20)}`, { method: r.method as 'GET', url: concrete(r.url), headers: { authorization: a } });
        assert.ok([401, 429].includes(res.statusCode), `${r.method} ${r.url} with ${a.slice(0, 20)} answered ${res.statusCode}`);
      }
    }
    assertNoFindings();
    const text = logs.text();
    assert.ok(text.length > 0, 'the gateway logged nothing at all; the capture is broken');
    assert.ok(!text.includes(secret), 'the real token appears in the gateway log');
    assert.ok(!text.includes('A'.repeat(200)), 'a presented credential appears in the gateway log');
  });

  it('keeps a token out of the log wherever a client misplaces it (query, path, cookie, odd headers)', async () => {
    const body = secret.slice(secret.indexOf('_') + 1);
    assert.ok(body.length >= 20, 'the token has a recognisable body');
    const places: InjectOptions[] = [
      { url: `/api/sessions?token=${secret}` },
      { url: `/api/sessions?x=${secret}` },
      { url: `/api/sessions/${secret}` },
      { url: `/api/sessions/${encodeURIComponent(secret).replace(/^l/, '%6C')}` },
      { url: '/api/status', headers: { cookie: `loki_session=${secret}` } },
      { url: '/api/status', headers: { 'x-api-key': secret } },
      { url: '/api/status', headers: { authorization: `Token ${secret}` } },
      { url: `/nowhere/${secret}` },
    ];
    for (const o of places) await probe(`secret in ${o.url} ${JSON.stringify(o.headers ?? {}).slice(0, 20)}`, { method: 'GET', ...o, headers: { ...auth(), ...(o.headers ?? {}) } });
    assertNoFindings();
    const text = logs.text();
    assert.ok(text.includes('/api/sessions'), 'the requests were logged at all');
    const at = text.indexOf(body.slice(0, 16));
    assert.equal(at, -1, `the token appears in the gateway log: …${text.slice(Math.max(0, at - 120), at + 40)}…`);
  });

  it('handles duplicate headers and a non-numeric Last-Event-ID on SSE routes with a JSON 4xx', async () => {
    for (const r of gw.app.loki.routes.filter((x) => x.access.stream)) {
      const url = concrete(r.url);
      for (const id of ['abc', '-1', '1e5', '9'.repeat(40), ' 1']) {
        const res = await probe(`${r.url} Last-Event-ID: ${id}`, { method: 'GET', url: `${url}?follow=false`, headers: { ...auth(), 'last-event-id': id } });
        assert.equal(res.statusCode, 400, `${r.url} Last-Event-ID ${id}`);
      }
    }
    const dup = await probe('duplicate Authorization', { method: 'GET', url: '/api/status', headers: { authorization: [`Bearer ${secret}`, 'Bearer junk'] as unknown as string } });
    assert.ok(dup.statusCode === 200 || dup.statusCode === 401, `duplicate Authorization answered ${dup.statusCode}`);
    await probe('duplicate Content-Type', {
      method: 'POST',
      url: '/api/enterprise/tokens',
      headers: { ...auth(), 'content-type': ['application/json', 'text/plain'] as unknown as string },
      payload: '{"name":"dup"}',
    });
    assertNoFindings();
    assert.ok(!logs.text().includes(secret), 'the real token appears in the gateway log');
  });
});
