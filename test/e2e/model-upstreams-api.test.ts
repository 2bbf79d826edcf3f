// The operator `base_url` attack: an operator token asks the daemon to send the
// configured model key to a URL of the operator's choosing. The daemon must
// refuse before anything starts, and the listener must receive nothing; a
// configured upstream picked by name (or by its exact URL) still works.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { GatewayMetrics } from '../../gateway/src/metrics.js';
import { sessionRouteGroups } from '../../gateway/src/routes/control.js';
import { ADMIN, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { bearer, buildTestGateway, generateToken, type TestGateway } from '../gateway/helpers.js';

const API_KEY = 'sk-operator-attack-44e1a09c';

function listener(seen: IncomingHttpHeaders[]): Server {
  return createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'done' } }], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    });
  });
}

describe('model upstreams through the gateway', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  let gw: TestGateway;
  let client: DaemonClient;
  let repo: string;
  let attacker: Server;
  let upstream: Server;
  const attackerSeen: IncomingHttpHeaders[] = [];
  const upstreamSeen: IncomingHttpHeaders[] = [];
  let operator = '';
  let upstreamUrl = '';

  before(async function () {
    const root = runnerBundleRoot();
    if (!root) this.skip();
    attacker = listener(attackerSeen);
    upstream = listener(upstreamSeen);
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    repo = makeRepo();
    sd = await startSessionDaemon({
      sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'], openai: { api_key: API_KEY, base_url: upstreamUrl, model: 'm' } },
      runner: agentRunnerBundle(root),
      // The operator may start sessions only on a project it may see.
      overrides: { git: { shared_projects: ['demo'] } },
    });
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
    operator = (await generateToken(sd.d.paths.adminSocket, { name: 'op', role: 'operator' })).secret;
    client = createDaemonClient({ socketPath: sd.d.paths.gatewaySocket, timeoutMs: 5000 });
    gw = await buildTestGateway({
      socket: sd.d.paths.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } },
      deps: { routes: sessionRouteGroups(client, { heartbeatMs: 200 }), metrics: new GatewayMetrics({ processMetrics: false }) },
    });
  });

  after(async function () {
    await gw?.close();
    client?.close();
    await sd?.cleanup();
    attacker?.close();
    upstream?.close();
    if (repo) removeDir(repo);
  });

  const start = (payload: Record<string, unknown>) =>
    gw.app.inject({ method: 'POST', url: '/api/control/start', headers: { ...bearer(operator), 'content-type': 'application/json' }, payload: JSON.stringify({ provider: 'openai', model: 'm', prompt: 'x', project: 'demo', ...payload }) });

  it('refuses an operator base_url that is not a configured upstream, and the listener receives nothing', async function () {
    const port = (attacker.address() as AddressInfo).port;
    const upPort = (upstream.address() as AddressInfo).port;
    // Not exact matches of the configured upstream: another port, another path, another spelling of the host.
    for (const base of [`http://127.0.0.1:${port}/v1`, `http://127.0.0.1:${port}`, `${upstreamUrl}/../../x`, `http://127.0.0.1:${upPort}/v2`, `http://localhost:${upPort}/v1`]) {
      const r = await start({ base_url: base });
      assert.ok(r.statusCode === 400 || r.statusCode === 403, `${base}: ${r.statusCode} ${r.body}`);
      assert.match(r.json<{ error: { message: string } }>().error.message, /base_url.*(configured upstream|local admin)/);
    }
    // Give a runner that might have started time to call out.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(attackerSeen.length, 0, `the attacker's listener was called with ${JSON.stringify(attackerSeen)}`);
    assert.deepEqual((await sd!.feature.manager.list(ADMIN, true)).filter((s) => s.owner === 'token:op'), []);
  });

  it('lets a remote caller pick a configured upstream by name, and names the known ones for an unknown name', async function () {
    const unknown = await start({ upstream: 'nope' });
    assert.equal(unknown.statusCode, 400, unknown.body);
    assert.match(unknown.json<{ error: { message: string } }>().error.message, /unknown model upstream "nope" for the openai provider \(configured: default\)/);
    const r = await start({ upstream: 'default' });
    assert.equal(r.statusCode, 201, r.body);
    const id = r.json<{ id: string }>().id;
    await until('the session to end', async () => ['completed', 'failed', 'stopped'].includes((await sd!.feature.manager.get(ADMIN, id)).state), 60_000);
    assert.equal((await sd!.feature.manager.get(ADMIN, id)).state, 'completed');
  });

  it('accepts the configured upstream by its exact URL, and the key goes only there', async function () {
    const r = await start({ base_url: upstreamUrl });
    assert.equal(r.statusCode, 201, r.body);
    const id = r.json<{ id: string }>().id;
    const done = await until('the session to end', async () => {
      const x = await sd!.feature.manager.get(ADMIN, id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 60_000);
    assert.equal(done.state, 'completed', done.reason);
    assert.ok(upstreamSeen.length >= 1);
    assert.ok(upstreamSeen.every((h) => h.authorization === `Bearer ${API_KEY}`));
    assert.equal(attackerSeen.length, 0);
  });
});
