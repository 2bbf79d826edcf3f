// Approvals over HTTP, end to end: a `script` session started through the API
// (real gateway, daemon, sandbox, agent-runner, git) waits on an approval; its
// owner sees it on SSE and in the list and approves it remotely, and the
// session carries on to completion. Other users neither see nor decide it.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { git, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { bearer, buildTestGateway, generateToken, type TestGateway } from '../gateway/helpers.js';
import { readSse } from '../gateway/sse-client.js';

const PLAN = `
- write: hello.txt
  content: "hello\\n"
  task: t1
- phase: review
- commit: "add hello"
`;

describe('approvals HTTP API', function () {
  this.timeout(180_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let repo: string;
  let port: number;
  const tok: Record<string, string> = {};

  before(async function () {
    if (!runnerBundleRoot()) this.skip(); // `npm run build` makes the bundle
    repo = makeRepo();
    const root = runnerBundleRoot()!;
    // Operators start sessions only on projects they may see: demo is shared with every subject.
    sd = await startSessionDaemon({ overrides: { git: { shared_projects: ['demo'] } }, sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'] }, runner: agentRunnerBundle(root) });
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
    for (const [name, role] of [['alice', 'operator'], ['bob', 'operator'], ['viewer', 'viewer']] as const) tok[name] = (await generateToken(sd.d.paths.adminSocket, { name, role })).secret;
    gw = await buildTestGateway({ socket: sd.d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
  });

  after(async function () {
    await gw?.close();
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  const get = (url: string, who: string) => gw.app.inject({ url, headers: bearer(tok[who]!) });
  const post = (url: string, who: string, payload?: unknown) =>
    gw.app.inject({ method: 'POST', url, headers: bearer(tok[who]!), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  it('lets the owner approve a pending action remotely, which unblocks the real script session', async function () {
    const started = await post('/api/control/start', 'alice', { prompt: 'write hello', provider: 'script', plan: PLAN, autonomy: 'checkpoint', project: 'demo' });
    assert.equal(started.statusCode, 201, started.body);
    const s = started.json<{ id: string; branch: string }>();

    // The pending approval arrives on the owner's SSE stream (opened with a stream ticket, as a browser would).
    const t = (await post('/api/auth/stream-ticket', 'alice', { path: '/api/approvals/events' })).json<{ ticket: string }>();
    const seen = await readSse(port, `/api/approvals/events?session_id=${s.id}&ticket=${t.ticket}`, {}, (ev) => ev.some((e) => e.event === 'pending' || e.event === 'requested'), 90_000);
    assert.equal(seen.status, 200);
    assert.equal(seen.headers['x-accel-buffering'], 'no');
    const pendingEvent = seen.events.find((e) => e.event === 'pending' || e.event === 'requested');
    assert.ok(pendingEvent, `no pending approval on SSE: ${seen.raw}`);
    const approval = (pendingEvent.data as { approval: { id: string; status: string; action: string; session_id: string } }).approval;
    assert.equal(approval.status, 'pending');
    assert.equal(approval.session_id, s.id);
    assert.match(approval.action, /phase review/);

    await until('waiting_approval', async () => (await get(`/api/sessions/${s.id}`, 'alice')).json<{ state: string }>().state === 'waiting_approval', 60_000);

    const listed = (await get(`/api/approvals?session_id=${s.id}`, 'alice')).json<{ approvals: { id: string }[] }>();
    assert.deepEqual(listed.approvals.map((a) => a.id), [approval.id]);
    assert.equal((await get(`/api/approvals/${approval.id}`, 'alice')).json<{ id: string }>().id, approval.id);

    // Not bob's: invisible (404, empty list), and a viewer may look but not decide.
    assert.deepEqual((await get('/api/approvals', 'bob')).json<{ approvals: unknown[] }>().approvals, []);
    assert.equal((await get(`/api/approvals/${approval.id}`, 'bob')).statusCode, 404);
    assert.equal((await post(`/api/approvals/${approval.id}/approve`, 'bob', {})).statusCode, 404);
    assert.equal((await post(`/api/approvals/${approval.id}/approve`, 'viewer', {})).statusCode, 403);
    assert.equal((await post(`/api/approvals/${approval.id}/approve`, 'alice', { comment: 'x'.repeat(2001) })).statusCode, 400);

    const decided = await post(`/api/approvals/${approval.id}/approve`, 'alice', { comment: 'looks right', decided_by: 'someone-else' });
    assert.equal(decided.statusCode, 400, 'a body cannot name the decider');
    const ok = await post(`/api/approvals/${approval.id}/approve`, 'alice', { comment: 'looks right' });
    assert.equal(ok.statusCode, 200, ok.body);
    const a = ok.json<{ status: string; decided_by: string; comment: string }>();
    assert.equal(a.status, 'approved');
    assert.equal(a.decided_by, 'token:alice');
    assert.equal(a.comment, 'looks right');
    assert.equal((await post(`/api/approvals/${approval.id}/reject`, 'alice')).statusCode, 409, 'decided once');

    const done = await until('the session to end', async () => {
      const x = (await get(`/api/sessions/${s.id}`, 'alice')).json<{ state: string; reason: string | null }>();
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 90_000);
    assert.equal(done.state, 'completed', String(done.reason));
    assert.equal(git(repo, 'log', '-1', '--format=%s', s.branch).trim(), 'add hello');
  });

  it("serves the finished session's diff, patch, branch and agent trail to its owner only", async function () {
    const [s] = (await get('/api/sessions?all=true', 'alice')).json<{ sessions: { id: string; branch: string }[] }>().sessions;
    assert.ok(s);
    const diff = await get(`/api/sessions/${s.id}/diff`, 'alice');
    assert.equal(diff.statusCode, 200, diff.body);
    const d = diff.json<{ branch: string; files: { path: string; insertions: number }[]; commits: { subject: string }[]; descends_from_base: boolean }>();
    assert.equal(d.branch, s.branch);
    assert.deepEqual(d.files, [{ path: 'hello.txt', insertions: 1, deletions: 0, binary: false }]);
    assert.deepEqual(d.commits.map((c) => c.subject), ['add hello']);
    assert.equal(d.descends_from_base, true);

    const patch = (await get(`/api/sessions/${s.id}/patch`, 'alice')).json<{ patch: string; truncated: boolean; head_commit: string }>();
    assert.match(patch.patch, /^diff --git a\/hello.txt b\/hello.txt/m);
    assert.match(patch.patch, /^\+hello$/m);
    assert.equal(patch.truncated, false);

    const branch = (await get(`/api/sessions/${s.id}/branch`, 'alice')).json<{ branch: string; owner: string }>();
    assert.equal(branch.branch, s.branch);
    assert.equal(branch.owner, 'token:alice');

    const trail = (await get(`/api/sessions/${s.id}/trail`, 'alice')).json<{ entries: { action: string; session_id: string }[] }>();
    assert.ok(trail.entries.some((e) => e.action === 'agent_write'), JSON.stringify(trail.entries.map((e) => e.action)));
    assert.equal((await get(`/api/sessions/${s.id}/trail?limit=1`, 'alice')).json<{ entries: unknown[] }>().entries.length, 1);

    for (const what of ['diff', 'patch', 'branch', 'trail']) assert.equal((await get(`/api/sessions/${s.id}/${what}`, 'bob')).statusCode, 404, what);
    for (const bad of ['0', '-1', '1.5', 'abc', '10001', '1e400']) {
      const r = await get(`/api/sessions/${s.id}/trail?limit=${bad}`, 'alice');
      assert.equal(r.statusCode, 400, `limit=${bad}: ${r.body}`);
      assert.match(r.json().error.message, /limit/);
    }
  });
});
