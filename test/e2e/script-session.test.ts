// The whole path with the real agent-runner bundle inside a real sandbox: a
// `script` session writes, runs, is denied (and carries on), waits for an
// approval granted through `loki approvals approve`, commits and completes.
import assert from 'node:assert/strict';
import { runCli } from '../../cli/src/program.js';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { ADMIN, git, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';

const PLAN = `
- write: hello.txt
  content: "hello\\n"
  task: t1
- run: cat hello.txt
- run: rm -rf /
- phase: review
- commit: "add hello"
`;

describe('a script session with the real agent-runner', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  let repo: string;

  before(function () {
    if (!runnerBundleRoot()) this.skip(); // `npm run build` makes the bundle; CI always has it
  });

  beforeEach(async function () {
    repo = makeRepo();
    const root = runnerBundleRoot()!;
    sd = await startSessionDaemon({ sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'] }, runner: agentRunnerBundle(root) });
  });

  afterEach(async function () {
    await sd?.cleanup();
    removeDir(repo);
  });

  it('writes, runs, is denied and carries on, waits for a CLI approval, commits and completes', async function () {
    const m = sd!.feature.manager;
    const s = await m.start(ADMIN, { prd: 'docs/prd.md', prompt: '', provider: 'script', plan: PLAN, profile: '', autonomy: 'checkpoint', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
    await until('waiting_approval', async () => (await m.get(ADMIN, s.id)).state === 'waiting_approval', 60_000);
    const [approval] = await sd!.feature.policy.listApprovals({ sessionId: s.id, status: 'pending' });
    assert.match(approval!.normalized, /phase review/);
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      assert.equal(await runCli(['--socket', sd!.d.paths.adminSocket, 'approvals', 'approve', approval!.id]), 0);
    } finally {
      process.stdout.write = write;
    }
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 60_000);
    assert.equal(done.state, 'completed', done.reason);

    assert.equal(git(repo, 'log', '-1', '--format=%s', s.branch).trim(), 'add hello');
    assert.equal(git(repo, 'show', `${s.branch}:hello.txt`), 'hello\n');

    const actions = sd!.feature.trail.read(s.id).filter((e) => e.action.startsWith('agent_')).map((e) => `${e.action}:${String(e.details.decision)}`);
    assert.deepEqual(actions, ['agent_write:allow', 'agent_shell:allow', 'agent_shell:deny', 'agent_phase:allow', 'agent_commit:allow']);

    const events: { type: string; message: string; seq: number }[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(e);
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    assert.ok(events.some((e) => e.type === 'denied' || (e.type === 'decision' && /deny shell rm -rf \//.test(e.message))));
    assert.ok(events.some((e) => e.type === 'finished'));
    assert.equal(done.tasks.completed, 1);
    // The engine's decisions: the approved phase counts once, as the ask it was.
    assert.deepEqual(done.decisions, { allow: 3, deny: 1, ask: 1 });
    assert.equal((await m.metrics(ADMIN)).active, 0);
  });
});
