// A script plan whose learn step carries a tag the learning store refuses
// ("bad tag": a space) must be refused when the session is started, like every
// other plan that cannot run. It used to start, and the learning was then
// dropped quietly (the reason only inside the event's JSON data; `loki memory
// list` showed nothing). Real CLI process against a real daemon.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lokiProcess } from '../../helpers/entry.js';
import { makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';

describe('loki start with a learn step whose tags the daemon would refuse', function () {
  this.timeout(60_000);
  let sd: SessionDaemon;
  let repo: string;

  before(async () => {
    repo = makeRepo();
    sd = await startSessionDaemon();
  });
  after(async () => {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  const start = async (plan: string) => {
    const file = join(repo, 'plan.yaml');
    writeFileSync(file, plan);
    return lokiProcess(sd.d.home, sd.d.paths.adminSocket, ['start', '--prompt', 'learn', '--provider', 'script', '--plan', file], { cwd: repo });
  };

  it('is refused with exit 2, the step and the rule, and no session', async () => {
    const bad = await start('- run: "true"\n- learn: "tests need NODE_ENV=test"\n  tags: [ok, "bad tag"]\n');
    assert.equal(bad.code, 2, bad.out + bad.err);
    assert.match(bad.err, /the plan cannot run: step 2: tag "bad tag" is not a tag: use 1-64 of \[A-Za-z0-9_.:-\]/);
    const many = await start(`- learn: "x"\n  tags: [${Array.from({ length: 17 }, (_, i) => `t${i}`).join(', ')}]\n`);
    assert.equal(many.code, 2, many.out + many.err);
    assert.match(many.err, /step 1: at most 16 tags/);
    assert.deepEqual(await sd.feature.manager.store.list(), [], 'no session was recorded');
  });
});
