// Regression (B16 starts): sessions started at the same moment raced past the
// branch-name check, cloned, and all but one failed on the UNIQUE branch with a
// raw SQLite error. Each must get its own branch and run.
import assert from 'node:assert/strict';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';

describe('concurrent session starts', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  const repos: string[] = [];

  afterEach(async () => {
    await sd?.cleanup();
    for (const r of repos.splice(0)) removeDir(r);
  });

  it('start three sessions at once: all run, each on its own branch', async function () {
    sd = await startSessionDaemon({ sessions: { max_concurrent: 10 } });
    for (let i = 0; i < 3; i++) repos.push(makeRepo());
    const m = sd.feature.manager;
    const results = await Promise.allSettled(
      repos.map((projectPath) => m.start(ADMIN, { prd: '', prompt: 'x', provider: 'script', plan: '- run: "true"\n', profile: '', autonomy: 'perpetual', project: '', projectPath, model: '', baseUrl: '', maxIterations: 0, network: false })),
    );
    const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    assert.deepEqual(failed, []);
    const sessions = results.map((r) => (r as PromiseFulfilledResult<{ state: string; branch: string }>).value);
    assert.deepEqual(sessions.map((s) => s.state), ['running', 'running', 'running']);
    assert.equal(new Set(sessions.map((s) => s.branch)).size, 3);
  });
});
