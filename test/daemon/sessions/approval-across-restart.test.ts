// A graceful restart of lokid (systemctl restart, Ctrl-C on `loki up`) while a session's action waits
// for a human: the action must not be denied by the shutdown. The runner asks the restarted daemon again,
// the same approval is reused, and a human's approval after the restart lets the action run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeHome, spawnDaemon, type DaemonProcess } from '../../helpers/daemon.js';
import { entryArgv, shortTempDir } from '../../helpers/entry.js';
import { git, makeRepo, removeDir, until } from './helpers.js';

const run = promisify(execFile);

describe('an approval wait across a graceful daemon restart', function () {
  this.timeout(180_000);
  let home: string;
  let repo: string;
  let daemon: DaemonProcess | undefined;

  before(() => {
    home = shortTempDir('lk-ar');
    repo = makeRepo();
    writeFileSync(join(home, 'config.yaml'), 'policy:\n  rules:\n    - { effect: ask, pattern: "touch approved.txt" }\n');
    writeFileSync(join(home, 'plan.yaml'), '- run: touch approved.txt\n- commit: after the approval\n');
  });
  let sessionId = '';
  after(async () => {
    // A session still live when the test failed: stopping it removes its sandbox.
    if (sessionId && daemon) await loki('stop', sessionId).catch(() => undefined);
    if (sessionId && daemon) await until('the session to stop', async () => !['running', 'waiting_approval', 'stopping'].includes((JSON.parse(await loki('sessions', 'show', sessionId)) as { state: string }).state), 30_000).catch(() => undefined);
    await daemon?.stop();
    removeHome(home);
    removeDir(repo);
  });

  const loki = async (...args: string[]) => (await run(process.execPath, [...entryArgv('cli'), '--home', home, '--json', ...args], { cwd: repo })).stdout;

  it('does not deny the waiting action when lokid stops; an approval after the restart lets it run', async () => {
    daemon = await spawnDaemon(home);
    const started = JSON.parse(await loki('start', '--prompt', 'touch a file', '--provider', 'script', '--plan', join(home, 'plan.yaml'))) as { id: string };
    sessionId = started.id;
    let approvalId = '';
    await until('the approval request', async () => {
      const list = JSON.parse(await loki('approvals', 'list')) as { approvals: { id: string; session_id: string }[] };
      approvalId = list.approvals.find((a) => a.session_id === started.id)?.id ?? '';
      return approvalId !== '';
    }, 60_000);

    assert.equal(await daemon.stop('SIGTERM'), 0);
    daemon = await spawnDaemon(home);

    await loki('approvals', 'approve', approvalId, '--comment', 'after the restart');
    let state = '';
    await until('the session to end', async () => {
      const s = JSON.parse(await loki('sessions', 'show', started.id)) as { state: string };
      state = s.state;
      return ['completed', 'failed', 'stopped'].includes(state);
    }, 120_000);
    const events = (await loki('sessions', 'logs', started.id)).trim().split('\n').map((l) => JSON.parse(l) as { type: string; message: string; data?: Record<string, unknown> });
    const denied = events.filter((e) => e.type === 'denied').map((e) => e.message);
    assert.deepEqual(denied, [], 'the shutdown denied nothing');
    assert.equal(state, 'completed');
    const finished = events.find((e) => e.type === 'finished');
    assert.equal(finished?.data?.denied, 0, JSON.stringify(finished));
    // The approved action ran: its file is on the session branch.
    const branch = git(repo, 'branch', '--list', 'loki/session-*').replace(/^[*+ ]+/, '').trim();
    assert.ok(git(repo, 'ls-tree', '--name-only', branch).split('\n').includes('approved.txt'), 'approved.txt is on the branch');
    assert.ok(!existsSync(join(repo, 'approved.txt')), 'main is untouched');
  });
});
