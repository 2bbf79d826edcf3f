// Every container operation of a session goes through SandboxManager, so each one
// leaves its audit entry (with the user who asked, or `system` when the session
// ends by itself) and passes the manager's ownership checks.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxManager } from '../../../daemon/src/sandbox/manager.js';
import type { SandboxDriver } from '../../../daemon/src/sandbox/types.js';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { ADMIN, COUNTER_COMMAND, gatewayCaller, makeRepo, removeDir, startSessionDaemon, until, type SessionDaemon } from './helpers.js';

interface Entry {
  action: string;
  user: string;
  resource: string;
  result: string;
  details: Record<string, unknown>;
}

function input(over: Partial<StartSessionInput>): StartSessionInput {
  return { prd: '', prompt: 'count', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false, ...over };
}

function entries(home: string, resource: string): Entry[] {
  const dir = join(home, 'dashboard', 'audit');
  const lines = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
  return lines.map((l) => JSON.parse(l) as Entry).filter((e) => e.resource === resource);
}

describe('session containers go through SandboxManager', function () {
  this.timeout(120_000);
  let sd: SessionDaemon;
  let repo: string;

  // One daemon for these cases: each works on its own session or sandbox.
  before(async function () {
    [repo, sd] = [makeRepo(), await startSessionDaemon({ sessions: { runner_command: COUNTER_COMMAND } })];
  });

  after(async function () {
    await sd.cleanup();
    removeDir(repo);
  });

  it('start, pause, resume and stop each leave a sandbox audit entry, in order', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ projectPath: repo }));
    await m.pause(ADMIN, s.id);
    await m.resume(ADMIN, s.id);
    await m.stop(ADMIN, s.id);
    const resource = `sandbox:${s.sandboxId}`;
    const got = await until('the stop entry', () => {
      const es = entries(sd.d.home, resource);
      return es.some((e) => e.action === 'sandbox.stop') && es;
    });
    assert.deepEqual(
      got.map((e) => [e.action, e.user, e.result]),
      [
        ['sandbox.start', 'local:0', 'success'],
        ['sandbox.pause', 'local:0', 'success'],
        ['sandbox.resume', 'local:0', 'success'],
        // The container ends with the session, after the grace period: the daemon does it.
        ['sandbox.stop', 'system', 'success'],
      ],
    );
    assert.equal(got[3]!.details.removed, true);
    assert.equal(await sd.driver.get(s.sandboxId), undefined, 'the container is gone');
  });

  it('teardown (the container removal of `sessions rm`) is audited, idempotent and owner-checked', async function () {
    const box = await sd.d.manager.start(ADMIN, { name: '', project: 'p', image: '', command: COUNTER_COMMAND, env: {}, limits: {}, relax: { network: false, writableRootfs: false, rootUser: false } });
    const mallory = gatewayCaller('token:mallory', ['read', 'control']);
    await assert.rejects(sd.d.manager.teardown(mallory, box.id), { code: 'sandbox_not_found' });
    await assert.rejects(sd.d.manager.pause(mallory, box.id), { code: 'sandbox_not_found' });
    assert.equal((await sd.driver.get(box.id))?.state, 'running', "a stranger's teardown and pause leave the container alone");

    const first = await sd.d.manager.teardown(ADMIN, box.id);
    assert.equal(first.info?.id, box.id);
    assert.equal(await sd.driver.get(box.id), undefined);
    const again = await sd.d.manager.teardown(ADMIN, box.id);
    assert.equal(again.info, undefined, 'a sandbox already gone is not an error');
    const stops = await until('the stop entry', () => {
      const es = entries(sd.d.home, `sandbox:${box.id}`).filter((e) => e.action === 'sandbox.stop');
      return es.length > 0 && es;
    });
    assert.deepEqual(stops.map((e) => [e.user, e.result, e.details.forced]), [['local:0', 'success', true]], 'one entry: the second teardown had nothing to do');
  });

  it('asks the driver whether it can pause instead of assuming Docker', async function () {
    // The real Docker driver, claiming what a backend without a freezer would.
    const noPause: SandboxDriver = Object.assign(Object.create(sd.driver) as SandboxDriver, { capabilities: { name: 'frozenless', pause: false } });
    const mgr = new SandboxManager({ driver: noPause, config: sd.d.config.sandbox, seccompPath: '/nonexistent', workspacesDir: sd.d.paths.workspacesDir, audit: sd.d.audit.audit, log: sd.d.log });
    await assert.rejects(mgr.pause(ADMIN, 'sbx-000000000000'), { code: 'failed_precondition', message: /the frozenless sandbox driver cannot pause/ });
    assert.equal(sd.driver.capabilities.pause, true);
  });
});
