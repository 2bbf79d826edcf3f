// lokid with exactly the capabilities the shipped systemd unit leaves it (its
// CapabilityBoundingSet, applied with setpriv as systemd would) must still do its
// job on a project that a user owns: git on that repository runs as the owner,
// which needs CAP_SETUID/CAP_SETGID. The unit used to drop them, and registering
// such a project failed with "internal error" (spawn EPERM). The agent trail's
// export (git.export_agent_audit) is written as the owner the same way.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRoot } from '../../../daemon/src/config.js';
import { spawnDaemon, type DaemonProcess } from '../../helpers/daemon.js';
import { lokiProcess, shortTempDir } from '../../helpers/entry.js';
import { requireImage } from '../../helpers/sandbox.js';

const NOBODY = 65534;

/** `CapabilityBoundingSet=CAP_A CAP_B` of a unit file → setpriv's `-all,+a,+b`. */
function boundingSetOf(unitFile: string): string {
  const line = readFileSync(unitFile, 'utf8').split('\n').find((l) => l.startsWith('CapabilityBoundingSet='));
  assert.ok(line, `${unitFile} sets CapabilityBoundingSet`);
  const caps = line.slice('CapabilityBoundingSet='.length).trim().split(/\s+/).filter(Boolean);
  return ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
}

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else chownSync(p, uid, uid);
  }
}

describe('lokid with the systemd unit\'s capabilities', function () {
  this.timeout(120_000);
  let root: string;
  let daemon: DaemonProcess | undefined;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    await requireImage();
    root = shortTempDir('lk-caps');
    chmodSync(root, 0o755); // the owner must reach its repository
  });
  after(async () => {
    await daemon?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("registers a project a user owns, runs a session on its clone and brings the branch back: git runs as the repository's owner", async () => {
    const repo = join(root, 'proj');
    mkdirSync(repo);
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    writeFileSync(join(repo, 'README.md'), 'hello\n');
    execFileSync('git', ['-C', repo, 'add', '.']);
    execFileSync('git', ['-C', repo, '-c', 'user.email=a@b', '-c', 'user.name=a', 'commit', '-qm', 'init']);
    chownTree(repo, NOBODY);

    const home = join(root, 'home');
    // With the trail export on: its copy in the owner's project is written as the owner, too.
    mkdirSync(home, { mode: 0o700 });
    writeFileSync(join(home, 'config.yaml'), 'git:\n  export_agent_audit: true\n');
    const bounding = boundingSetOf(join(installRoot(), 'deploy', 'systemd', 'lokid.service'));
    daemon = await spawnDaemon(home, {}, { prefix: ['setpriv', '--bounding-set', bounding, '--'] });
    const capBnd = readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8').match(/^CapBnd:\s*(\w+)/m)?.[1];
    assert.notEqual(capBnd, 'ffffffffffffffff'.slice(0, capBnd?.length ?? 0), 'lokid runs with the reduced bounding set');

    const reg = await lokiProcess(home, daemon.paths.adminSocket, ['projects', 'register', repo]);
    assert.equal(reg.code, 0, reg.err);
    const health = await lokiProcess(home, daemon.paths.adminSocket, ['projects', 'health', '--json']);
    assert.equal(health.code, 0, health.err + health.out);

    // A session's workspace is cloned from it (the reading side runs as the owner), the session
    // runs, and its branch comes back into the owner's repository (fetched as the owner, from a
    // bundle lokid hands over: the owner cannot reach lokid's workspaces).
    const plan = join(root, 'plan.yaml');
    writeFileSync(plan, '- run: "cat README.md"\n- write: notes.txt\n  content: "hi\\n"\n- commit: "add notes"\n');
    const start = await lokiProcess(home, daemon.paths.adminSocket, ['start', '--project', 'proj', '--prompt', 'x', '--provider', 'script', '--plan', plan, '--json']);
    assert.equal(start.code, 0, start.err);
    const id = (JSON.parse(start.out) as { id: string }).id;
    let state = '';
    for (let i = 0; i < 120 && !['completed', 'failed', 'stopped'].includes(state); i++) {
      await new Promise((r) => setTimeout(r, 500));
      state = (JSON.parse((await lokiProcess(home, daemon.paths.adminSocket, ['sessions', 'show', id, '--json'])).out) as { state: string }).state;
    }
    assert.equal(state, 'completed');
    const logs = await lokiProcess(home, daemon.paths.adminSocket, ['sessions', 'logs', id]);
    assert.match(logs.out, /exit 0\n {4}│ hello\n/, 'the agent read the project through its clone');
    assert.doesNotMatch(logs.out, /could not bring the session branch back/);
    const branch = (JSON.parse(start.out) as { branch: string }).branch;
    const asOwner = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { uid: NOBODY, gid: NOBODY, env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', GIT_CONFIG_GLOBAL: '/dev/null' }, encoding: 'utf8' }).trim();
    assert.equal(asOwner('log', '-1', '--format=%s', branch), 'add notes');
    assert.equal(asOwner('show', `${branch}:notes.txt`), 'hi');
    const exported = join(repo, '.loki', 'logs', 'agent-audit.jsonl');
    assert.match(readFileSync(exported, 'utf8'), /"action":"session_finish"/);
    const notOwned = execFileSync('find', [repo, '!', '-uid', String(NOBODY)], { encoding: 'utf8' }).trim();
    assert.equal(notOwned, '', 'every file in the project (.git, the exported trail) still belongs to its owner');
  });
});
