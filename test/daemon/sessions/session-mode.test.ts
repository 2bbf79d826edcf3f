// The autonomy mode a session is started with (`loki start --autonomy`) overrides its profile's mode
// (docs/policy.md "Staged autonomy"), and `loki policy check --session` decides as the session does:
// with its profile and its mode. Real lokid, real sandbox, the real CLI in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeHome, spawnDaemon, type DaemonProcess } from '../../helpers/daemon.js';
import { entryArgv, shortTempDir } from '../../helpers/entry.js';
import { makeRepo, removeDir, until } from './helpers.js';

const run = promisify(execFile);

describe('a session\'s autonomy mode against its profile\'s', function () {
  this.timeout(180_000);
  let home: string;
  let repo: string;
  let daemon: DaemonProcess | undefined;
  const live: string[] = [];

  before(async () => {
    home = shortTempDir('lk-sm');
    repo = makeRepo();
    writeFileSync(join(home, 'config.yaml'), 'policy:\n  profiles:\n    careful:\n      extends: default\n      mode: supervised\n');
    writeFileSync(join(home, 'plan.yaml'), '- run: echo one\n- run: echo two\n');
    daemon = await spawnDaemon(home);
  });
  after(async () => {
    for (const id of live) await loki('stop', id).catch(() => undefined);
    for (const id of live) await until('the session to end', async () => ['completed', 'stopped', 'failed'].includes(await state(id)), 30_000).catch(() => undefined);
    await daemon?.stop();
    removeHome(home);
    removeDir(repo);
  });

  const loki = async (...args: string[]) => (await run(process.execPath, [...entryArgv('cli'), '--home', home, '--json', ...args], { cwd: repo })).stdout;
  const state = async (id: string) => (JSON.parse(await loki('sessions', 'show', id)) as { state: string }).state;
  const approvals = async (id: string) => (JSON.parse(await loki('approvals', 'list', '--status', 'all', '--session', id)) as { approvals: { asked_by: string; action: string }[] }).approvals;
  const check = async (id: string, command: string) => JSON.parse(await loki('policy', 'check', '--session', id, command)) as { decision: string; profile: string };
  const start = async (...args: string[]) => {
    const s = JSON.parse(await loki('start', '--prompt', 'two echoes', '--provider', 'script', '--plan', join(home, 'plan.yaml'), ...args)) as { id: string };
    live.push(s.id);
    return s.id;
  };

  it('a perpetual session under a supervised profile runs its allowed actions without asking, and policy check --session says so', async () => {
    const id = await start('--profile', 'careful', '--autonomy', 'perpetual');
    await until('the session to end or ask', async () => (await state(id)) === 'completed' || (await approvals(id)).length > 0, 90_000);
    assert.deepEqual((await approvals(id)).map((a) => `${a.asked_by} ${a.action}`), [], 'the session\'s perpetual mode overrides the profile\'s supervised mode');
    assert.equal(await state(id), 'completed');
    const c = await check(id, 'echo three');
    assert.equal(c.profile, 'careful', 'checked with the session\'s profile');
    assert.equal(c.decision, 'allow');
  });

  it('policy check --session answers a file action as the agent channel did, inside the workspace and out', async () => {
    // Both doors decide against the session's workspace as its sandbox has it (/workspace); Decide and
    // Explain used to take policy.workspace instead, so with another value they answered the reverse.
    writeFileSync(join(home, 'writes.yaml'), '- write: /workspace/a.txt\n  content: "a\\n"\n- write: /srv/app/b.txt\n  content: "b\\n"\n');
    const id = JSON.parse(await loki('start', '--prompt', 'two writes', '--provider', 'script', '--plan', join(home, 'writes.yaml'))) as { id: string };
    live.push(id.id);
    await until('the session to end', async () => ['completed', 'failed'].includes(await state(id.id)), 90_000);
    const logs = (await run(process.execPath, [...entryArgv('cli'), '--home', home, 'sessions', 'logs', id.id], { cwd: repo })).stdout;
    for (const [path, agent] of [['/workspace/a.txt', 'allow'], ['/srv/app/b.txt', 'deny']] as const) {
      assert.match(logs, new RegExp(`decision +${agent} write ${path}`), `the agent channel said ${agent} for ${path}`);
      const c = JSON.parse(await loki('policy', 'check', '--session', id.id, path, '--write')) as { decision: string };
      assert.equal(c.decision, agent, `policy check --session ${path}`);
    }
  });

  it('policy check --session answers ask for a supervised session, as its agent channel does', async () => {
    const id = await start('--autonomy', 'supervised');
    await until('the approval', async () => (await approvals(id)).length > 0, 90_000);
    assert.equal((await approvals(id))[0]!.action, 'echo one', 'the real decision: ask');
    assert.equal((await check(id, 'echo one')).decision, 'ask', 'policy check agrees with the real decision');
  });
});
