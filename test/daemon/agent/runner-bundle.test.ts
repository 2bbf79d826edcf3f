// stageRunnerBundle: the agent-runner copied under LOKI_HOME for a lokid in a
// container, whose install directory (/app) the host engine cannot bind from.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentRunnerBundle, stageRunnerBundle } from '../../../daemon/src/agent/runner-bundle.js';
import { loadDaemonConfig } from '../../../daemon/src/config.js';
import { runnerBundleFile } from '../../../daemon/src/sandbox/runner.js';
import { shortTempDir } from '../../helpers/entry.js';

describe('stageRunnerBundle', () => {
  let dir: string;
  beforeEach(() => {
    dir = shortTempDir('lkrb');
    mkdirSync(join(dir, 'app', 'dist', 'agent-runner'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('copies the bundle into the directory and binds it from there, readable by the sandbox user', () => {
    const installed = agentRunnerBundle(join(dir, 'app'));
    writeFileSync(join(installed.bundleDir, installed.entry), 'v1');
    const staged = stageRunnerBundle(installed, join(dir, 'home', 'agent-runner'));
    assert.equal(runnerBundleFile(staged), join(dir, 'home', 'agent-runner', installed.entry));
    assert.equal(staged.pathInSandbox, installed.pathInSandbox);
    assert.equal(readFileSync(runnerBundleFile(staged), 'utf8'), 'v1');
    assert.equal(statSync(runnerBundleFile(staged)).mode & 0o777, 0o644);
  });

  it('replaces an older copy by rename, so a sandbox already running keeps the file it was started with', () => {
    const installed = agentRunnerBundle(join(dir, 'app'));
    const home = join(dir, 'home', 'agent-runner');
    writeFileSync(join(installed.bundleDir, installed.entry), 'v1');
    const before = statSync(runnerBundleFile(stageRunnerBundle(installed, home))).ino;
    writeFileSync(join(installed.bundleDir, installed.entry), 'v2');
    const file = runnerBundleFile(stageRunnerBundle(installed, home));
    assert.equal(readFileSync(file, 'utf8'), 'v2');
    assert.notEqual(statSync(file).ino, before, 'a new file, not the old one rewritten');
  });

  it('leaves a missing bundle to the start-time check, which names the install path', () => {
    const installed = agentRunnerBundle(join(dir, 'app'));
    assert.deepEqual(stageRunnerBundle(installed, join(dir, 'home', 'agent-runner')), installed);
    assert.throws(() => runnerBundleFile(installed), /agent-runner bundle .*app\/dist\/agent-runner.* is missing/);
  });

  it('is off by default and on with sandbox.runner_in_home or LOKI_SANDBOX_RUNNER_IN_HOME', () => {
    assert.equal(loadDaemonConfig({ env: { LOKI_HOME: dir } }).sandbox.runner_in_home, false);
    assert.equal(loadDaemonConfig({ env: { LOKI_HOME: dir, LOKI_SANDBOX_RUNNER_IN_HOME: 'true' } }).sandbox.runner_in_home, true);
  });
});
