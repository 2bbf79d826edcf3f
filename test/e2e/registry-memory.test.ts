// Tasks and learnings recorded by a real `script` session (real agent-runner in
// a real sandbox) appear in the cross-project registry queries over HTTP
// (real gateway): search ranks the exact phrase first, another token sees
// nothing of a project it may not see, and the per-session quotas stop a
// runner with a clear `quota` event while the session still completes.
import assert from 'node:assert/strict';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { ADMIN, git, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { requireImage } from '../helpers/sandbox.js';
import { bearer, buildTestGateway, generateToken, type TestGateway } from '../gateway/helpers.js';

const PLAN = `
- learn: "tokens that are short-lived expire hourly; authentication retries once"
  tags: [auth]
  task: t1
- learn: "Authentication uses short-lived tokens from the OIDC provider"
  tags: [auth, oidc]
  task: t2
- learn: "a third learning, over the quota"
  task: t3
`;

describe('tasks and learnings from a script session, across projects', function () {
  this.timeout(180_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let repo: string;
  const tok: Record<string, string> = {};

  before(async function () {
    if (!runnerBundleRoot()) this.skip();
    await requireImage();
    repo = makeRepo();
    const root = runnerBundleRoot()!;
    sd = await startSessionDaemon({
      sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'], quotas: { learnings: 2, tasks: 2 } },
      runner: agentRunnerBundle(root),
      // Auto PR on, and no gh: the PR step must say so, not fail silently.
      overrides: { git: { auto_pr: true, gh_path: '/nonexistent/gh' } },
    });
    for (const [name, role] of [['admin', 'admin'], ['viewer', 'viewer']] as const) tok[name] = (await generateToken(sd.d.paths.adminSocket, { name, role })).secret;
    gw = await buildTestGateway({ socket: sd.d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
  });
  after(async () => {
    await gw?.close();
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  const get = (url: string, who: string) => gw.app.inject({ method: 'GET', url, headers: bearer(tok[who]!) });
  const post = (url: string, who: string, payload: Record<string, unknown> = {}) => gw.app.inject({ method: 'POST', url, headers: bearer(tok[who]!), payload });

  it('records what fits, says which quota was hit, completes, and serves it to who may see the project', async () => {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, { prd: '', prompt: 'learn things', provider: 'script', plan: PLAN, profile: '', autonomy: '', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 120_000);
    const events: { type: string; message: string }[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(e);
    assert.equal(done.state, 'completed', `${done.reason}\n${events.map((e) => `${e.type}: ${e.message}`).join('\n')}`);
    const quota = events.filter((e) => e.type === 'quota').map((e) => e.message);
    assert.equal(quota.length, 2, JSON.stringify(quota));
    assert.ok(quota.some((q) => /reached its quota of 2 tasks \(sessions\.quotas\.tasks\)/.test(q)), JSON.stringify(quota));
    assert.ok(quota.some((q) => /reached its quota of 2 learnings \(sessions\.quotas\.learnings\)/.test(q)), JSON.stringify(quota));

    const tasks = await get(`/api/registry/tasks?project=${s.projectId}`, 'admin');
    assert.equal(tasks.statusCode, 200, tasks.body);
    assert.deepEqual(tasks.json<{ tasks: { task_id: string; status: string; session_id: string }[] }>().tasks.map((t) => [t.session_id, t.task_id, t.status]), [
      [s.id, 't1', 'completed'],
      [s.id, 't2', 'completed'],
    ]);
    assert.equal((await get('/api/registry/tasks?status=failed', 'admin')).json<{ tasks: unknown[] }>().tasks.length, 0);

    const search = await get(`/api/registry/learnings?q=${encodeURIComponent('authentication uses')}`, 'admin');
    assert.equal(search.statusCode, 200, search.body);
    const found = search.json<{ learnings: { text: string; match: string; tags: string[]; project_id: string; session_id: string }[] }>().learnings;
    assert.equal(found.length, 1, 'only one row holds both words');
    assert.deepEqual([found[0]!.match, found[0]!.tags, found[0]!.project_id, found[0]!.session_id], ['phrase', ['auth', 'oidc'], s.projectId, s.id]);
    const both = (await get('/api/registry/learnings?q=short-lived+tokens', 'admin')).json<{ learnings: { text: string; match: string }[] }>().learnings;
    assert.deepEqual(both.map((l) => l.match), ['phrase', 'terms']);
    assert.match(both[0]!.text, /^Authentication uses short-lived tokens/);
    const list = (await get('/api/registry/learnings', 'admin')).json<{ learnings: { text: string }[] }>().learnings;
    assert.equal(list.length, 2, 'the third learning was over the quota');

    // The viewer may not see the project (registered by the local admin, not shared).
    assert.deepEqual((await get('/api/registry/learnings?q=authentication', 'viewer')).json<{ learnings: unknown[] }>().learnings, []);
    assert.deepEqual((await get('/api/registry/tasks', 'viewer')).json<{ tasks: unknown[] }>().tasks, []);
    assert.equal((await get(`/api/registry/learnings?project=${s.projectId}`, 'viewer')).statusCode, 404);
    assert.equal((await get('/api/registry/learnings?q=' + 'x'.repeat(1001), 'admin')).statusCode, 400);
    assert.equal((await get('/api/registry/learnings?q=***', 'admin')).statusCode, 400);

    // No agent commit: no branch is left, and with auto PR on the session says why no PR (event, diff API, `session pr`).
    assert.equal(git(repo, 'for-each-ref', 'refs/heads/loki/').trim(), '', 'no session branch in the project');
    const prEvent = events.find((e) => e.type === 'pull_request');
    assert.match(prEvent?.message ?? '', /pull request not opened: the session made no commits/);
    const diff = await get(`/api/sessions/${s.id}/diff`, 'admin');
    assert.equal(diff.statusCode, 200, diff.body);
    assert.match(diff.json<{ pull_request: { opened: boolean; reason: string } }>().pull_request.reason, /no commits/);
    const pr = await post(`/api/sessions/${s.id}/pr`, 'admin');
    assert.equal(pr.statusCode, 200, pr.body);
    assert.deepEqual([pr.json<{ opened: boolean }>().opened, /no commits/.test(pr.json<{ reason: string }>().reason)], [false, true]);
    assert.equal((await post(`/api/sessions/${s.id}/pr`, 'viewer')).statusCode, 403);
    const prune = await post('/api/registry/prune', 'admin', {});
    assert.equal(prune.statusCode, 200, prune.body);
    assert.equal(prune.json<{ dry_run: boolean }>().dry_run, true);
  });
});

describe('per-session quotas on events and approvals', function () {
  this.timeout(180_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let repo: string;
  let admin = '';

  before(async function () {
    if (!runnerBundleRoot()) this.skip();
    await requireImage();
    repo = makeRepo();
    const root = runnerBundleRoot()!;
    sd = await startSessionDaemon({ sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'], quotas: { events: 30, approvals: 1 } }, runner: agentRunnerBundle(root) });
    admin = (await generateToken(sd.d.paths.adminSocket, { name: 'admin', role: 'admin' })).secret;
    gw = await buildTestGateway({ socket: sd.d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
  });
  after(async () => {
    await gw?.close();
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  it('denies the approval over the quota without asking, drops events over the quota, and the session still completes', async () => {
    const plan = ['- phase: review', '- phase: deploy', ...Array.from({ length: 30 }, (_, i) => `- run: echo ${i}`)].join('\n');
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, { prd: '', prompt: 'loop', provider: 'script', plan, profile: '', autonomy: 'checkpoint', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
    const first = await until('the first approval', async () => (await sd.feature.policy.listApprovals({ sessionId: s.id, status: 'pending' }))[0], 60_000);
    const ok = await gw.app.inject({ method: 'POST', url: `/api/approvals/${first.id}/approve`, headers: bearer(admin), payload: {} });
    assert.equal(ok.statusCode, 200, ok.body);
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 120_000);
    const events: { type: string; message: string; data: Record<string, unknown> }[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(e);
    assert.equal(done.state, 'completed', `${done.reason}\n${events.map((e) => `${e.type}: ${e.message}`).join('\n')}`);
    assert.equal((await sd.feature.policy.listApprovals({ sessionId: s.id })).length, 1, 'the second phase asked no human');
    assert.ok(events.some((e) => /reached its quota of 1 approvals \(sessions\.quotas\.approvals\)/.test(e.message)), events.map((e) => e.message).join('\n'));
    assert.equal(events.filter((e) => e.type === 'quota').length, 1);
    assert.match(events.find((e) => e.type === 'quota')!.message, /reached its quota of 30 events \(sessions\.quotas\.events\)/);
    // 30 accepted, then the quota event, the runner's `finished`, and the daemon's own end-of-session events.
    assert.ok(events.length < 45, `events were not bounded: ${events.length}`);
    assert.ok(events.some((e) => e.type === 'finished'), 'finished is accepted over the quota');
  });
});
