// The runner bundle reaches a sandbox as a transport its driver provides
// (SandboxDriver.runnerTransport): Docker bind-mounts the bundle's one file,
// read-only, at the path the runner command names. The runner can neither change
// the code it runs nor see anything else of the install, and a malformed or
// missing bundle is refused before any container exists.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { DockerSandboxDriver } from '../../../daemon/src/sandbox/docker-driver.js';
import type { StartRequest } from '../../../daemon/src/sandbox/manager.js';
import type { RunnerBundle, SandboxInfo } from '../../../daemon/src/sandbox/types.js';
import { startTestDaemon } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';
import { ADMIN } from '../sessions/helpers.js';

const IN_SANDBOX = '/opt/loki/agent-runner.cjs';
const RUNNER_CODE = '// the runner, version 1\n';

function refused(kind: string, pattern: RegExp) {
  return (err: unknown) => err instanceof LokiError && err.kind === kind && pattern.test(err.message);
}

describe('the runner bundle as a driver transport (Docker)', function () {
  this.timeout(120_000);
  let dir: string;
  let bundle: RunnerBundle;
  const driver = new DockerSandboxDriver({ socketPath: '/var/run/docker.sock', instance: 'runner-transport-test' });

  before(() => {
    dir = shortTempDir('lkr');
    // World-writable on the host: only the read-only mount can stop the sandbox's write.
    writeFileSync(join(dir, 'loki-agent-runner.cjs'), RUNNER_CODE, { mode: 0o666 });
    chmodSync(join(dir, 'loki-agent-runner.cjs'), 0o666);
    // Beside the bundle, as `src/` is in dist/agent-runner/: the sandbox must not see it.
    writeFileSync(join(dir, 'beside.txt'), 'not for the sandbox\n');
    mkdirSync(join(dir, 'a-directory.cjs'));
    bundle = { bundleDir: dir, entry: 'loki-agent-runner.cjs', pathInSandbox: IN_SANDBOX };
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('carries only the bundle file, read-only, to the path the runner command names', () => {
    assert.deepEqual(driver.runnerTransport(bundle), {
      pathInSandbox: IN_SANDBOX,
      mounts: [{ hostPath: join(dir, 'loki-agent-runner.cjs'), containerPath: IN_SANDBOX, readOnly: true }],
    });
  });

  it('refuses a missing bundle, a directory in its place, a path for an entry, a relative directory and bind-syntax characters', () => {
    assert.throws(() => driver.runnerTransport({ ...bundle, entry: 'missing.cjs' }), refused('failed_precondition', /missing; run `npm run build`/));
    assert.throws(() => driver.runnerTransport({ ...bundle, entry: 'a-directory.cjs' }), refused('failed_precondition', /is not a plain file/));
    for (const entry of ['../loki-agent-runner.cjs', 'x/loki-agent-runner.cjs', '..', '']) {
      assert.throws(() => driver.runnerTransport({ ...bundle, entry }), refused('invalid_argument', /plain file name/), entry);
    }
    assert.throws(() => driver.runnerTransport({ ...bundle, bundleDir: 'dist/agent-runner' }), refused('invalid_argument', /absolute path/));
    for (const pathInSandbox of ['opt/x.cjs', '/', '/opt/../etc/x', '/opt/loki/']) {
      assert.throws(() => driver.runnerTransport({ ...bundle, pathInSandbox }), refused('invalid_argument', /absolute, normalized/), pathInSandbox);
    }
    // `host:container:options`: a ':' would mount something else, a ',' would add options.
    assert.throws(() => driver.runnerTransport({ ...bundle, pathInSandbox: '/opt/x.cjs:rw' }), refused('invalid_argument', /contains ':' or ','/));
    assert.throws(() => driver.runnerTransport({ ...bundle, pathInSandbox: '/opt/x.cjs,rw' }), refused('invalid_argument', /contains ':' or ','/));
  });

  describe('in a real sandbox', () => {
    let d: Awaited<ReturnType<typeof startTestDaemon>>;
    const started: string[] = [];
    const request = (command: string[], runner: RunnerBundle): StartRequest => ({
      name: '', project: 'demo', image: '', command, env: {}, limits: {}, relax: { network: false, writableRootfs: false, rootUser: false }, runner,
    });

    before(async () => {
      d = await startTestDaemon();
    });
    after(async () => {
      for (const id of started) await d.manager.remove(ADMIN, id, true).catch(() => undefined);
      await d?.cleanup();
    });

    async function exited(id: string): Promise<SandboxInfo> {
      for (let i = 0; i < 300; i++) {
        const info = await d.manager.get(ADMIN, id);
        if (info.state === 'exited' || info.state === 'dead') return info;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`sandbox ${id} did not exit`);
    }

    it('has the runner file, cannot write it, and sees nothing else of the bundle directory', async () => {
      const script = [
        `cat ${IN_SANDBOX} > /workspace/seen.txt`,
        `(echo tampered >> ${IN_SANDBOX}) 2> /workspace/write.err; echo $? > /workspace/write.code`,
        // Not `ls /opt/loki`: gVisor cannot list the directory a file bind creates (EINVAL).
        'for f in beside.txt a-directory.cjs loki-agent-runner.cjs; do [ -e /opt/loki/$f ] && echo $f; done > /workspace/beside.txt; true',
      ].join('; ');
      const info = await d.manager.start(ADMIN, request(['/bin/sh', '-c', script], bundle));
      started.push(info.id);
      assert.equal((await exited(info.id)).exitCode, 0);
      const out = (f: string) => readFileSync(join(info.workspace, f), 'utf8');
      assert.equal(out('seen.txt'), RUNNER_CODE);
      assert.notEqual(out('write.code').trim(), '0', 'the write to the runner succeeded');
      assert.match(out('write.err'), /Read-only file system/);
      assert.equal(out('beside.txt'), '', 'something else of the bundle directory is in the sandbox');
      assert.equal(readFileSync(join(dir, 'loki-agent-runner.cjs'), 'utf8'), RUNNER_CODE, 'the host file changed');
    });

    it('refuses a start whose bundle is missing, before any container exists', async () => {
      const before = (await d.manager.list(ADMIN, true)).length;
      await assert.rejects(d.manager.start(ADMIN, request(['/bin/true'], { ...bundle, entry: 'missing.cjs' })), refused('failed_precondition', /agent-runner bundle .* is missing/));
      assert.equal((await d.manager.list(ADMIN, true)).length, before);
    });
  });
});
