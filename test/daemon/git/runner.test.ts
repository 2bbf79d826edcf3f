import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { runGit } from '../../../daemon/src/git/runner.js';
import { makeProject, tempDir } from './helpers.js';

describe('runGit', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir('loki-runner-');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('ignores GIT_* variables, SSH_AUTH_SOCK and tokens in the daemon environment', async () => {
    const repo = makeProject(root);
    const hostile: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: root,
      GIT_DIR: '/nonexistent',
      GIT_CONFIG_PARAMETERS: "'core.hookspath'='/tmp/evil'",
      GIT_SSH_COMMAND: 'touch /tmp/evil',
      SSH_AUTH_SOCK: '/tmp/agent.sock',
      GITHUB_TOKEN: 'ghp_secret',
    };
    assert.equal((await runGit(['rev-parse', '--git-dir'], { cwd: repo, baseEnv: hostile })).stdout.trim(), '.git');
    assert.equal((await runGit(['config', '--get', 'core.hooksPath'], { cwd: repo, baseEnv: hostile })).stdout.trim(), '/dev/null');
    assert.equal((await runGit(['config', '--get', 'core.fsmonitor'], { cwd: repo, baseEnv: hostile })).stdout.trim(), 'false');
    const env = (await runGit(['var', '-l'], { cwd: repo, baseEnv: hostile })).stdout;
    assert.doesNotMatch(env, /ghp_secret|agent\.sock|\/tmp\/evil/);
  });

  it('overrides hook and fsmonitor settings from the repository config', async () => {
    const repo = makeProject(root);
    await runGit(['config', 'core.hooksPath', '/tmp/evil-hooks'], { cwd: repo });
    await runGit(['config', 'core.fsmonitor', '/tmp/evil-fsmonitor'], { cwd: repo });
    assert.equal((await runGit(['config', '--get', 'core.hooksPath'], { cwd: repo })).stdout.trim(), '/dev/null');
    assert.equal((await runGit(['config', '--get', 'core.fsmonitor'], { cwd: repo })).stdout.trim(), 'false');
  });

  it('refuses the ext:: transport', async () => {
    await assert.rejects(runGit(['ls-remote', 'ext::sh -c touch% /tmp/loki-ext-marker'], { cwd: root }), /transport 'ext' not allowed/);
  });
});
