// `loki start --network` on a daemon whose config does not allow a sandbox
// network (two keys: sandbox.allow.network and the request) is refused before
// anything exists: no session, no workspace clone, no workspace image, and the
// refusal is audited. Before the fix the daemon recorded the session, cloned
// the project into a mounted 10g workspace image, and only then failed the
// session when the sandbox start was refused. Real CLI process, real daemon.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lokiProcess } from '../../helpers/entry.js';
import { requireImage } from '../../helpers/sandbox.js';
import { makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';

describe('loki start --network without the daemon key', function () {
  this.timeout(120_000);
  let sd: SessionDaemon;
  let repo: string;

  before(async () => {
    await requireImage();
    repo = makeRepo();
    sd = await startSessionDaemon();
  });
  after(async () => {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  const cli = (cwd: string, ...args: string[]) => lokiProcess(sd.d.home, sd.d.paths.adminSocket, args, { cwd });

  it('is refused with exit 4 and relaxation_not_allowed before a session or workspace exists, and audited', async () => {
    const plan = join(repo, 'plan.yaml');
    writeFileSync(plan, '- run: "echo hi"\n');
    const r = await cli(repo, 'start', '--prompt', 'reach the network', '--provider', 'script', '--plan', plan, '--network');
    assert.equal(r.code, 4, `${r.out}\n${r.err}`);
    assert.match(r.err, /the daemon config does not allow relaxing network \(set sandbox\.allow\.network: true/);
    assert.doesNotMatch(r.err, /failed to start|\n\s+at /, 'no session was started to fail, and no stack trace');

    assert.deepEqual(await sd.feature.manager.store.list(), [], 'no session was recorded');
    const workspaces = join(sd.d.home, 'workspaces');
    const made = existsSync(workspaces) ? readdirSync(workspaces).filter((n) => n !== '.images') : [];
    assert.deepEqual(made, [], 'no workspace was cloned');
    const images = join(workspaces, '.images');
    assert.deepEqual(existsSync(images) ? readdirSync(images) : [], [], 'no workspace image was made');

    const audit = await cli(repo, 'enterprise', 'audit', 'tail', '--event', 'sandbox.start', '--json');
    assert.equal(audit.code, 0, audit.err);
    const entries = audit.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { result: string; reason?: string });
    assert.ok(entries.some((e) => e.result === 'denied' && /does not allow relaxing network/.test(e.reason ?? '')), audit.out);
  });
});
