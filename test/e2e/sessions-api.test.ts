// The session HTTP API end to end: real gateway (real HTTP for SSE), real
// daemon with the session feature, real sandboxes, real git, real tokens.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { GatewayMetrics } from '../../gateway/src/metrics.js';
import { sessionRouteGroups } from '../../gateway/src/routes/control.js';
import { ADMIN, agentSocket, makeRepo, removeDir, StandInRunner, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { bearer, buildTestGateway, generateToken, type TestGateway } from '../gateway/helpers.js';

interface SseEvent {
  id: number;
  event: string;
  data: { seq: number; type: string; session_id: string };
}

/** Reads SSE frames from a real HTTP response until `stop` says so. */
function readSse(port: number, path: string, headers: Record<string, string>, stop: (events: SseEvent[]) => boolean): Promise<{ status: number; events: SseEvent[]; raw: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res: IncomingMessage) => {
      let raw = '';
      const events: SseEvent[] = [];
      const done = () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, events, raw });
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        let i: number;
        while ((i = raw.indexOf('\n\n')) >= 0) {
          const frame = raw.slice(0, i);
          raw = raw.slice(i + 2);
          const f = Object.fromEntries(frame.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (f.data && f.id) events.push({ id: Number(f.id), event: f.event ?? '', data: JSON.parse(f.data) as SseEvent['data'] });
        }
        if (stop(events)) done();
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('session HTTP API', function () {
  this.timeout(120_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let routesClient: DaemonClient;
  let repo: string;
  let port: number;
  const tok: Record<string, string> = {};

  before(async function () {
    repo = makeRepo();
    // Operators start sessions only on projects they may see: demo is shared with every subject.
    sd = await startSessionDaemon({ overrides: { git: { shared_projects: ['demo'] } } });
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
    for (const [name, role] of [['alice', 'operator'], ['bob', 'operator'], ['viewer', 'viewer']] as const) tok[name] = (await generateToken(sd.d.paths.adminSocket, { name, role })).secret;
    routesClient = createDaemonClient({ socketPath: sd.d.paths.gatewaySocket, timeoutMs: 5000 });
    gw = await buildTestGateway({
      socket: sd.d.paths.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } },
      deps: {
        routes: sessionRouteGroups(routesClient, { heartbeatMs: 200 }),
        metrics: new GatewayMetrics({ processMetrics: false, sessionMetrics: () => routesClient.forCaller({ requestId: 'm', subject: 'gateway:metrics', scopes: ['*'] }).sessions.metrics() }),
      },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
  });

  after(async function () {
    await gw?.close();
    routesClient?.close();
    await sd?.cleanup();
    removeDir(repo);
  });

  const post = (url: string, who: string, payload?: unknown) =>
    gw.app.inject({ method: 'POST', url, headers: { ...bearer(tok[who]!), ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });
  const get = (url: string, who: string) => gw.app.inject({ url, headers: bearer(tok[who]!) });

  it('starts, lists, controls and streams a session for its owner only', async function () {
    const started = await post('/api/control/start', 'alice', { prompt: 'say hello', provider: 'script', plan: [{ run: 'true' }], project: 'demo', sandbox: true });
    assert.equal(started.statusCode, 201, started.body);
    const s = started.json<{ id: string; state: string; owner: string }>();
    assert.equal(s.state, 'running');
    assert.equal(s.owner, 'token:alice');

    assert.deepEqual((await get('/api/sessions', 'alice')).json<{ sessions: { id: string }[] }>().sessions.map((x) => x.id), [s.id]);
    assert.deepEqual((await get('/api/sessions', 'bob')).json<{ sessions: unknown[] }>().sessions, []);
    assert.equal((await get(`/api/sessions/${s.id}`, 'bob')).statusCode, 404);
    assert.equal((await post('/api/control/pause', 'bob', { session_id: s.id })).statusCode, 404);
    assert.equal((await post('/api/control/pause', 'viewer', { session_id: s.id })).statusCode, 403);

    // Some runner activity so there is something to stream.
    const runner = new StandInRunner(agentSocket(sd.d, s.id));
    try {
      await runner.hello();
      await runner.decide({ $case: 'shell', shell: 'rm -rf /' });
      await runner.report([{ type: 'message', message: 'one' }, { type: 'message', message: 'two' }]);
    } finally {
      runner.close();
    }

    assert.equal((await post('/api/control/pause', 'alice', { session_id: s.id })).json<{ state: string }>().state, 'paused');
    const resumed = await post('/api/control/resume', 'alice');
    assert.equal(resumed.json<{ state: string }>().state, 'running', resumed.body);

    // SSE: replay from the start, then resume after an id with Last-Event-ID and lose nothing.
    const all = (await readSse(port, `/api/sessions/${s.id}/events`, bearer(tok.alice!), (e) => e.some((x) => x.data.type === 'state' && x.id > 5 && x.event === 'state' && /running/.test(JSON.stringify(x.data))))).events;
    assert.deepEqual(all.map((e) => e.id), all.map((_, i) => i + 1));
    const cut = 3;
    const rest = await readSse(port, `/api/sessions/${s.id}/events`, { ...bearer(tok.alice!), 'last-event-id': String(cut) }, (e) => e.length >= all.length - cut);
    assert.equal(rest.status, 200);
    assert.deepEqual(rest.events.map((e) => e.id), all.slice(cut).map((e) => e.id));
    assert.equal((await readSse(port, `/api/sessions/${s.id}/events`, bearer(tok.bob!), () => true)).status, 404);
    // Heartbeats keep idle streams alive.
    const idle = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: `/api/sessions/${s.id}/events?after=100000`, headers: bearer(tok.alice!) }, (res) => {
        let raw = '';
        res.on('data', (c: Buffer) => {
          raw += c.toString();
          if (raw.includes(': heartbeat')) {
            req.destroy();
            resolve(raw);
          }
        });
      });
      req.end();
    });
    assert.match(idle, /: heartbeat/);

    // The all-sessions stream shows only what the caller may see.
    const bobs = await readSse(port, '/api/events?follow=false', bearer(tok.bob!), () => false);
    assert.deepEqual(bobs.events, []);
    const alices = await readSse(port, '/api/events?follow=false', bearer(tok.alice!), () => false);
    assert.ok(alices.events.length >= all.length && alices.events.every((e) => e.data.session_id === s.id));

    // Metrics: the loki_* families, accepted by promtool.
    const metrics = await get('/metrics', 'viewer');
    assert.match(metrics.body, new RegExp(`loki_session_status\\{session="${s.id}"\\} 1`));
    assert.match(metrics.body, /loki_sessions_active 1/);
    assert.match(metrics.body, /loki_policy_decisions_total\{decision="deny"\} 1/);
    assert.match(metrics.body, /loki_sessions_created_total 1/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);

    // Emergency stop with no body: the caller's only active session.
    const stopped = await post('/api/control/stop', 'alice');
    assert.equal(stopped.statusCode, 200, stopped.body);
    assert.equal(stopped.json<{ state: string }>().state, 'stopped');
    assert.equal((await sd.feature.manager.get(ADMIN, s.id)).state, 'stopped');
    await until('status 0 in metrics', async () => (await get('/metrics', 'viewer')).body.includes(`loki_session_status{session="${s.id}"} 0`));
  });

  it('answers bad input with 400 and a specific message', async function () {
    const bad = async (payload: unknown, msg: RegExp) => {
      const r = await post('/api/control/start', 'alice', payload);
      assert.equal(r.statusCode, 400, r.body);
      assert.match(r.json<{ error: { message: string } }>().error.message, msg);
    };
    await bad({}, /send a PRD path \("prd"\) or an inline prompt/);
    await bad({ prd: 'missing.md', project: 'demo', plan: [{ run: 'true' }] }, /PRD file missing\.md is missing or outside the project/);
    await bad({ prd: '../../../../etc/passwd', project: 'demo', plan: [{ run: 'true' }] }, /outside the project/);
    await bad({ prompt: 'x', provider: 'gpt' }, /provider/);
    await bad({ prompt: 'x', profile: 'nope', project: 'demo', plan: [{ run: 'true' }] }, /unknown policy profile "nope"/);
    await bad({ prompt: 'x', colour: 'red' }, /colour|additional/);
    assert.equal((await post('/api/control/pause', 'alice', { session_id: 'nope' })).statusCode, 400);
    assert.equal((await get('/api/sessions/ses-xyz', 'alice')).statusCode, 400);
    const r = await gw.app.inject({ url: '/api/sessions/ses-000000000000/events', headers: { ...bearer(tok.alice!), 'last-event-id': 'abc' } });
    assert.equal(r.statusCode, 400);
  });
});
