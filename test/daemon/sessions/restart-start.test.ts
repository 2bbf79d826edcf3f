// SIGKILL the daemon in the middle of a session start (the fixture stops the start right
// after a step, so the kill lands exactly there) and restart it: the session ends failed,
// and what the dead start had made (workspace record, workspace file system, container)
// is ended and removable like any ended session's, never orphaned.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimePaths } from '../../../common/src/index.js';
import { Metadata } from '@grpc/grpc-js';
import { ListSessionsRequest, SessionServiceClient, SessionState, StartSessionRequest, type ListSessionsResponse, type RemoveSessionResponse, type Session, type SessionEvent } from '../../../proto/gen/loki/v1/sessions.js';
import { Provider } from '../../../proto/gen/loki/v1/vocab.js';
import { WorkspaceServiceClient, type RemoveProjectRequest, type RemoveProjectResponse } from '../../../proto/gen/loki/v1/workspace.js';
import { clientFor, collectStream, unaryCall } from '../../helpers/daemon.js';
import { sigkillSuite, spawnFixture, until } from './helpers.js';

/** Containers (any state) Docker still has for the session. */
function containersOf(sessionId: string): string[] {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=loki.session=${sessionId}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`));
}

describe('SessionManager after a daemon SIGKILL during a session start', function () {
  this.timeout(120_000);
  const t = sigkillSuite('lks');
  let sessionId = '';
  beforeEach(() => {
    sessionId = '';
  });

  /**
   * A `mkfs.ext4` first on lokid's PATH that says it runs (its pid in `mark`) and never ends: the daemon is
   * killed in the middle of putting the workspace on its size-limited file system.
   */
  function hangingMkfs(mark: string): NodeJS.ProcessEnv {
    const bin = join(t.home, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'mkfs.ext4'), `#!/bin/sh\necho $$ > ${mark}\nexec sleep 600\n`);
    chmodSync(join(bin, 'mkfs.ext4'), 0o755);
    return { PATH: `${bin}:${process.env.PATH ?? ''}` };
  }

  for (const step of ['clone', 'workspace', 'mkfs', 'sandbox'] as const) {
    it(`fails the session and leaves nothing behind when killed right after its ${step} step`, async function () {
      const mark = join(t.home, 'mkfs.pid');
      t.child = await spawnFixture(t.home, step === 'mkfs' ? hangingMkfs(mark) : { LOKI_TEST_HANG_AFTER: step });
      const admin = runtimePaths(t.home).adminSocket;
      let client = clientFor(SessionServiceClient, admin);
      const starting = unaryCall<StartSessionRequest, Session>(client.start.bind(client), StartSessionRequest.fromPartial({ prompt: 'build', provider: Provider.PROVIDER_SCRIPT, plan: '[{"run":"true"}]', projectPath: t.repo }));
      starting.catch(() => undefined); // cut off by the kill
      await until(`the start to reach the ${step} step`, () => (step === 'mkfs' ? existsSync(mark) && readFileSync(mark, 'utf8').trim() : t.child!.output().includes(`hang:${step}`)), 60_000);
      t.child.kill('SIGKILL');
      await new Promise((r) => t.child!.once('exit', r));
      if (step === 'mkfs') process.kill(Number(readFileSync(mark, 'utf8')), 'SIGKILL');
      client.close();

      t.child = await spawnFixture(t.home);
      client = clientFor(SessionServiceClient, admin);
      const projects = clientFor(WorkspaceServiceClient, admin);
      try {
        const list = await unaryCall<ListSessionsRequest, ListSessionsResponse>(client.list.bind(client), ListSessionsRequest.fromPartial({ all: true }));
        assert.equal(list.sessions.length, 1);
        sessionId = list.sessions[0]!.id;
        const s = await until('the session to fail', async () => {
          const got = await unaryCall<{ id: string }, Session>(client.get.bind(client), { id: sessionId });
          return got.state === SessionState.SESSION_STATE_FAILED && got;
        }, 30_000);
        assert.match(s.reason, /the daemon restarted while the session was starting/);
        if (step === 'sandbox') assert.ok(s.sandboxId, 'the sandbox the dead start made is the session\'s');
        assert.deepEqual(containersOf(sessionId), [], 'no container of the session is left running');
        const workspace = join(runtimePaths(t.home).workspacesDir, sessionId);
        if (step === 'clone') {
          // Never recorded, so nothing to bring back or remove later: the half clone is gone already.
          assert.equal(existsSync(workspace), false, 'the half-made clone was deleted');
          await unaryCall<RemoveProjectRequest, RemoveProjectResponse>(projects.removeProject.bind(projects), { project: s.projectId });
          return;
        }
        assert.equal(existsSync(`${workspace}.clone`), false, 'no copy of the checkout is left beside the workspace');
        const said = await collectStream<SessionEvent>(client.events({ sessionId, afterSeq: 0, afterGid: 0, follow: false }, new Metadata()));
        assert.ok(said.some((e) => e.type === 'diff_summary'), 'the session branch was brought back');
        assert.deepEqual(said.filter((e) => e.type === 'error').map((e) => e.message), []);

        // Removable like any ended session: the workspace (a mounted file system), its image and its directory go.
        assert.ok(existsSync(workspace), 'the workspace was kept for inspection until removed');
        const rm = await unaryCall<{ id: string }, RemoveSessionResponse>(client.remove.bind(client), { id: sessionId });
        assert.ok(rm.session?.workspaceRemoved);
        assert.equal(existsSync(workspace), false, 'loki sessions rm removed the workspace');
        assert.deepEqual(mountsUnder(t.home), [], 'no workspace file system is left mounted');
        assert.deepEqual(readdirSync(runtimePaths(t.home).workspacesDir).filter((f) => f !== '.images'), [], 'nothing is left under workspaces/');
        const images = join(runtimePaths(t.home).workspacesDir, '.images');
        assert.deepEqual(existsSync(images) ? readdirSync(images) : [], [], 'no workspace image is left');

        // The workspace is no longer active: the project can be unregistered.
        await unaryCall<RemoveProjectRequest, RemoveProjectResponse>(projects.removeProject.bind(projects), { project: s.projectId });
      } finally {
        client.close();
        projects.close();
      }
    });
  }
});
