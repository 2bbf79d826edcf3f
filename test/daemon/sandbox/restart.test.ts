import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { SandboxServiceClient, SandboxState, type LogChunk, type Sandbox } from '../../../proto/gen/loki/v1/sandbox.js';
import { clientFor, errorCode, spawnDaemon, unaryCall, type DaemonProcess } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';
import { START, docker, execIn, instanceContainers, removeInstanceContainers, requireImage, type SandboxClient } from '../../helpers/sandbox.js';

function collectLogs(client: SandboxClient, id: string, tail: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const s = client.logs({ id, follow: false, tail, timestamps: false }, new Metadata());
    s.on('data', (c: LogChunk) => (out += c.data.toString()));
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}

describe('lokid restart (SIGKILL, then a new daemon on the same home)', function () {
  this.timeout(120_000);
  let home: string;
  let first: DaemonProcess | undefined;
  let second: DaemonProcess | undefined;
  let client: SandboxClient | undefined;
  let orig: Sandbox;

  beforeEach(async () => {
    await requireImage();
    home = shortTempDir('lkd');
  });

  afterEach(async () => {
    client?.close();
    await first?.stop('SIGKILL');
    await second?.stop();
    await removeInstanceContainers(home);
    rmSync(home, { recursive: true, force: true });
  });

  it('finds the running sandbox again, with the same id, owner and labels, and can exec, read logs and stop it', async () => {
    first = await spawnDaemon(home);
    client = clientFor(SandboxServiceClient, first.paths.adminSocket);
    orig = (await unaryCall(client.start.bind(client), { ...START, name: 'survivor', project: 'demo', command: ['sh', '-c', 'echo booted; trap "exit 0" TERM; while :; do sleep 1; done'] })).sandbox!;
    const labelsBefore = (await docker.getContainer(orig.containerId).inspect()).Config.Labels;
    client.close();

    const code = await first.stop('SIGKILL');
    assert.equal(first.child.signalCode, 'SIGKILL', `lokid died by SIGKILL (exit ${code})`);
    first = undefined;
    const [c] = await instanceContainers(home);
    assert.equal(c?.State, 'running', 'the container outlives the daemon');

    second = await spawnDaemon(home);
    client = clientFor(SandboxServiceClient, second.paths.adminSocket);
    const list = (await unaryCall(client.list.bind(client), { all: false })).sandboxes;
    assert.equal(list.length, 1);
    const after = list[0]!;
    assert.deepEqual(
      { id: after.id, name: after.name, owner: after.owner, project: after.project, state: after.state, legacyState: after.legacyState, containerId: after.containerId, workspace: after.workspace },
      { id: orig.id, name: 'survivor', owner: orig.owner, project: 'demo', state: SandboxState.SANDBOX_STATE_RUNNING, legacyState: 'running', containerId: orig.containerId, workspace: orig.workspace },
    );
    assert.deepEqual(after.hardening, orig.hardening);
    assert.deepEqual((await docker.getContainer(after.containerId).inspect()).Config.Labels, labelsBefore);

    const r = await execIn(client, 'survivor', ['sh', '-c', 'echo hi from $(id -u); exit 4']);
    // The dedicated sandbox uid (64000 when lokid is root), the same after the restart.
    assert.deepEqual([r.stdout, r.code], [`hi from ${process.getuid?.() === 0 ? 64000 : process.getuid?.()}\n`, 4]);
    assert.equal(await collectLogs(client, orig.id, 1), 'booted\n');

    const stopped = await unaryCall(client.stop.bind(client), { id: orig.id, timeoutSeconds: 2, keep: false });
    assert.equal(stopped.removed, true);
    assert.deepEqual(await instanceContainers(home), []);
    await assert.rejects(unaryCall(client.status.bind(client), { id: orig.id }), (e: unknown) => errorCode(e) === 'sandbox_not_found');
  });
});
