import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { defaultGitConfig } from '../../../daemon/src/git/config.js';
import { runGit } from '../../../daemon/src/git/runner.js';
import { agentGit, agentWrite, gitFixture, hostGit, makeProject, type GitFixture } from './helpers.js';

// Every hook git knows about, including the transport-side ones that a local
// fetch or push could trigger in either repository.
const HOOKS = [
  'post-checkout', 'pre-push', 'reference-transaction', 'fsmonitor-watchman', 'post-merge', 'pre-commit',
  'post-commit', 'pre-receive', 'update', 'post-receive', 'post-update', 'push-to-checkout', 'pre-auto-gc', 'post-index-change',
];

describe('a hostile workspace', () => {
  let fx: GitFixture;
  let project: string;
  let markers: string;
  afterEach(() => fx?.close());

  function script(name: string): string {
    const p = join(fx.root, 'bin', name);
    writeFileSync(p, `#!/bin/sh\ntouch ${JSON.stringify(join(markers, name))}\nexit 0\n`, { mode: 0o755 });
    return p;
  }

  function markersCreated(): string[] {
    return readdirSync(markers);
  }

  /** Plants hooks, a hooksPath, fsmonitor and every exec-capable config key in the workspace. */
  function plant(ws: string): void {
    const hooks = join(ws, '.git', 'hooks');
    for (const h of HOOKS) agentWrite(join(hooks, h), `#!/bin/sh\ntouch ${JSON.stringify(join(markers, `hook-${h}`))}\nexit 0\n`, 0o755);
    agentGit(ws, 'config', 'core.hooksPath', join(fx.root, 'bin', 'hookdir'));
    agentGit(ws, 'config', 'core.fsmonitor', script('fsmonitor'));
    agentGit(ws, 'config', 'uploadpack.packObjectsHook', script('pack-objects-hook'));
    agentGit(ws, 'config', 'core.alternateRefsCommand', script('alternate-refs'));
    agentGit(ws, 'config', 'core.sshCommand', script('ssh'));
    agentGit(ws, 'config', 'core.pager', script('pager'));
    agentGit(ws, 'config', 'diff.external', script('diff-external'));
    agentGit(ws, 'config', 'filter.evil.clean', script('filter-clean'));
    agentGit(ws, 'config', 'filter.evil.smudge', script('filter-smudge'));
    agentGit(ws, 'config', 'diff.evil.textconv', script('textconv'));
    agentWrite(join(ws, '.gitattributes'), '* filter=evil diff=evil\n');
  }

  beforeEach(async () => {
    fx = gitFixture({ config: defaultGitConfig() });
    project = makeProject(fx.root);
    markers = join(fx.root, 'markers');
    mkdirSync(markers, { mode: 0o777 });
    chmodSync(markers, 0o777);
    mkdirSync(join(fx.root, 'bin', 'hookdir'), { recursive: true, mode: 0o755 });
    await fx.projects.register(project, { registeredBy: 'local:0' });
  });

  it('never runs a planted hook, hooksPath, fsmonitor, filter or diff driver on the host through any daemon operation', async () => {
    const bare = join(fx.root, 'origin.git');
    hostGit(fx.root, 'init', '--quiet', '--bare', bare);
    hostGit(project, 'remote', 'add', 'origin', bare);
    await fx.projects.remove('proj');
    await fx.projects.register(project, { registeredBy: 'local:0' });
    for (const h of HOOKS) writeFileSync(join(fx.root, 'bin', 'hookdir', h), `#!/bin/sh\ntouch ${JSON.stringify(join(markers, `hookspath-${h}`))}\n`, { mode: 0o755 });

    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'h1', pid: 7, owner: 'local:0' });
    plant(ws.path);
    // Control: the planted config is live: the agent's own git runs it inside the workspace.
    agentGit(ws.path, 'status');
    assert.ok(existsSync(join(markers, 'fsmonitor')), 'control: fsmonitor should fire for the agent itself');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'plant attributes');
    assert.ok(existsSync(join(markers, 'hookspath-pre-commit')), 'control: hooksPath should fire for the agent itself');
    for (const m of markersCreated()) rmSync(join(markers, m));

    await fx.workspaces.diff('h1');
    await fx.workspaces.bringBack('h1');
    await fx.workspaces.finish('h1');
    await fx.workspaces.pushToRemote('h1');
    assert.deepEqual(markersCreated(), [], 'nothing planted in the workspace may run on the host');
    assert.equal(hostGit(bare, 'rev-parse', `refs/heads/${ws.branch}`), hostGit(project, 'rev-parse', `refs/heads/${ws.branch}`));
  });

  it('disables hooks and fsmonitor even inside a workspace, but not filter drivers: why the daemon never runs git in one', async () => {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'h0', pid: 7, owner: 'local:0' });
    plant(ws.path);
    const gitDir = join(ws.path, '.git');
    agentWrite(join(ws.path, 'touched.txt'), 'x\n');
    // Control: the same commands through plain git (trusting the dir the same way) do run the planted programs.
    const cfg = join(fx.root, 'trust.gitconfig');
    writeFileSync(cfg, `[safe]\n\tdirectory = ${gitDir}\n\tdirectory = ${ws.path}\n`);
    execFileSync('git', ['-C', ws.path, 'status'], { env: { PATH: '/usr/bin:/bin', GIT_CONFIG_GLOBAL: cfg, GIT_CONFIG_NOSYSTEM: '1' }, stdio: 'ignore' });
    assert.ok(existsSync(join(markers, 'fsmonitor')), 'control: plain git status runs the planted fsmonitor');
    for (const m of markersCreated()) rmSync(join(markers, m));

    await runGit(['status'], { cwd: ws.path, safeDirectories: [gitDir, ws.path] });
    await runGit(['diff', 'HEAD'], { cwd: ws.path, safeDirectories: [gitDir, ws.path] });
    await runGit(['-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '--allow-empty', '-q', '-m', 'x'], { cwd: ws.path, safeDirectories: [gitDir, ws.path] });
    await runGit(['checkout', '-q', '-b', 'other'], { cwd: ws.path, safeDirectories: [gitDir, ws.path] });
    const fired = markersCreated();
    assert.deepEqual(fired.filter((m) => m.startsWith('hook') || m === 'fsmonitor' || m === 'pager'), [], 'hooks, hooksPath, fsmonitor and pager are off');
    // Filter and diff drivers come from the agent's .gitattributes + config and no command-line
    // switch turns them all off; so the daemon only ever fetches from a workspace (tested above).
    assert.ok(fired.includes('filter-clean'), `expected the planted clean filter to fire here, got ${fired.join(',')}`);
  });

  it('refuses a workspace whose objects borrow from another repository (alternates)', async () => {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'h2', pid: 7, owner: 'local:0' });
    agentWrite(join(ws.path, '.git', 'objects', 'info', 'alternates'), `${join(project, '.git', 'objects')}\n`);
    await assert.rejects(fx.workspaces.diff('h2'), (e: unknown) => e instanceof LokiError && e.code === 'unsafe_workspace' && /alternates/.test(e.message));
  });

  it('refuses a workspace whose .git became a gitfile or a symlink to a host path', async () => {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'h3', pid: 7, owner: 'local:0' });
    renameSync(join(ws.path, '.git'), join(ws.path, 'real-git'));
    writeFileSync(join(ws.path, '.git'), `gitdir: ${join(project, '.git')}\n`);
    await assert.rejects(fx.workspaces.bringBack('h3'), (e: unknown) => e instanceof LokiError && e.code === 'unsafe_workspace');
    rmSync(join(ws.path, '.git'));
    symlinkSync(join(project, '.git'), join(ws.path, '.git'));
    await assert.rejects(fx.workspaces.bringBack('h3'), (e: unknown) => e instanceof LokiError && e.code === 'unsafe_workspace');
  });

  it('refuses symlinked refs that would make the daemon read host files', async () => {
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId: 'h4', pid: 7, owner: 'local:0' });
    symlinkSync('/etc/hostname', join(ws.path, '.git', 'refs', 'heads', 'leak'));
    await assert.rejects(fx.workspaces.diff('h4'), (e: unknown) => e instanceof LokiError && e.code === 'unsafe_workspace' && /symlink/.test(e.message));
  });
});
