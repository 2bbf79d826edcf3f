// An agent that makes its workspace unsafe to read (here an alternates file
// pointing at a host path) gets its branch refused at the end of the session,
// as it should. But the session has ended: its workspace must no longer count
// as active. Before the fix the record stayed `active` for good, and
// `loki projects remove` answered "has 1 active session workspace(s) …; stop
// them first" for a completed session, even after `loki sessions rm`. Real
// runner in a real sandbox, real CLI process.
import assert from 'node:assert/strict';
import { lokiProcess } from '../../helpers/entry.js';
import { ADMIN, realRunnerSuite, until } from './helpers.js';

describe('a session whose branch cannot be brought back still ends its workspace', function () {
  this.timeout(180_000);
  const suite = realRunnerSuite();

  const cli = (...args: string[]) => lokiProcess(suite.sd.d.home, suite.sd.d.paths.adminSocket, args);

  it('refuses the branch, says why, and lets the operator remove the project afterwards', async () => {
    const reg = await cli('projects', 'register', suite.repo, '--name', 'app');
    assert.equal(reg.code, 0, reg.err);
    const plan = JSON.stringify([
      { write: 'work.txt', content: 'work\n' },
      { run: 'echo /etc > .git/objects/info/alternates' },
      { commit: 'borrow objects from the host' },
    ]);
    const m = suite.sd.feature.manager;
    const s = await m.start(ADMIN, { prd: '', prompt: 'hostile', provider: 'script', plan, profile: '', autonomy: '', project: 'app', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false });
    const done = await until('the session to end', async () => {
      const x = await m.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 120_000);
    assert.equal(done.state, 'completed', done.reason ?? '');
    const events: { type: string; message: string }[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) events.push(e);
    assert.ok(events.some((e) => e.type === 'error' && /could not bring the session branch back: .*alternates exists/.test(e.message)), events.map((e) => `${e.type}: ${e.message}`).join('\n'));

    const rm = await cli('projects', 'remove', 'app');
    assert.equal(rm.code, 0, `${rm.out}\n${rm.err}`);
    assert.match(rm.out, /app removed/);
  });
});
