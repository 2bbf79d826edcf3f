// A file action the agent asks for (write, delete, read: the runner's file tools)
// is carried out only inside the session workspace: the runner resolves the path,
// symlinks included, and refuses anything outside. The policy used to allow
// `write /tmp/x` (a scratch path) and `read /etc/hostname` (reads are not
// restricted), so the audit said `policy.allow` for actions the runner then
// refused. Now the daemon denies them with the reason, and every file action the
// audit calls allowed is one that happened. Real runner, real sandbox, real audit.
import assert from 'node:assert/strict';
import { auditEntries } from '../../helpers/daemon.js';
import { ADMIN, realRunnerSuite, until } from '../sessions/helpers.js';

describe('file actions outside the workspace', function () {
  this.timeout(180_000);
  const suite = realRunnerSuite();

  it('are denied by the daemon with the reason, so the audit never says allow for what the runner refuses', async () => {
    const plan = JSON.stringify([
      { write: '/tmp/x', content: 'scratch\n' },
      { read: '/etc/hostname' },
      { run: 'ln -s /tmp tmp-link' },
      { write: 'tmp-link/y', content: 'through a link\n' },
      { delete: '/workspace' },
      { write: '../outside', content: 'o\n' },
      { write: 'inside.txt', content: 'in\n' },
      { read: 'inside.txt' },
      { run: 'rm tmp-link' },
    ]);
    const m = suite.sd.feature.manager;
    const s = await m.start(ADMIN, { prd: '', prompt: 'files', provider: 'script', plan, profile: '', autonomy: '', project: '', projectPath: suite.repo, model: '', baseUrl: '', maxIterations: 0, network: false });
    await until('the session to end', async () => ['completed', 'failed', 'stopped'].includes((await m.get(ADMIN, s.id)).state), 120_000);

    const decided = auditEntries(suite.sd.d.home)
      .filter((e) => e.resource === `session:${s.id}` && (e.action === 'policy.allow' || e.action === 'policy.deny'))
      .filter((e) => /^(write|read|delete) /.test(String(e.details.normalized)));
    const verdict = (normalized: string) => {
      const e = decided.find((x) => x.details.normalized === normalized);
      assert.ok(e, `an audit entry for ${normalized} in:\n${decided.map((x) => x.details.normalized).join('\n')}`);
      return [e.action, e.details.rule];
    };
    assert.deepEqual(verdict('write /tmp/x'), ['policy.deny', 'paths:outside-workspace']);
    assert.deepEqual(verdict('read /etc/hostname'), ['policy.deny', 'paths:outside-workspace']);
    assert.deepEqual(verdict('write /tmp/y'), ['policy.deny', 'paths:outside-workspace'], 'a link out of the workspace is followed');
    assert.deepEqual(verdict('delete /workspace'), ['policy.deny', 'paths:workspace-root']);
    assert.deepEqual(verdict('write /outside'), ['policy.deny', 'paths:outside-allowed']);
    assert.deepEqual(verdict('write /workspace/inside.txt'), ['policy.allow', 'paths:allowed']);
    assert.deepEqual(verdict('read /workspace/inside.txt'), ['policy.allow', 'paths:read']);

    // What the session's log says the runner did: every allowed file action succeeded, none was refused in the sandbox.
    const events: { type: string; message: string }[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(e);
    const refused = events.filter((e) => e.type === 'tool_result' && /outside the workspace|refusing to delete|failed:/.test(e.message));
    assert.deepEqual(refused.map((e) => e.message), [], 'no action the daemon allowed was refused by the runner');
    const denied = events.filter((e) => e.type === 'denied').map((e) => e.message);
    assert.ok(denied.some((t) => /write \/tmp\/x: \/tmp\/x is outside the workspace \(\/workspace\): file actions \(write, delete, read\) work only inside it/.test(t)), denied.join('\n'));
    assert.ok(events.some((e) => e.type === 'tool_result' && /wrote 3 bytes to \/workspace\/inside\.txt/.test(e.message)));
  });
});
