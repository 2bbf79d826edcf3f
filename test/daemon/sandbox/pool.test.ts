// The warm sandbox pool with real dockerd, real git and the real agent-runner:
// a session claims a pre-started hardened slot, the slot never carries state to
// the next session, unclaimed slots are nobody's, and a restart (or a crash)
// leaves no slot behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { agentRunnerBundle } from '../../../daemon/src/agent/runner-bundle.js';
import { POOL_OWNER } from '../../../daemon/src/sandbox/pool.js';
import { makeEmptyVolume } from '../../../daemon/src/sessions/workspace-volume.js';
import { ADMIN, execIn, gatewayCaller, git, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../sessions/helpers.js';
import { clientFor, removeHome as removeHomeAfter, SANDBOX_RUNTIME, spawnDaemon, unaryCall } from '../../helpers/daemon.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { shortTempDir } from '../../helpers/entry.js';

/** Pool containers of one daemon as Docker sees them (the raw view, not the daemon's). */
function poolContainers(home: string): string[] {
  const out = execFileSync('docker', ['ps', '-a', '--filter', `label=loki.owner=${POOL_OWNER}`, '--format', '{{.Label "loki.sandbox"}} {{.Label "loki.workspace"}}'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(` ${home}/`)).map((l) => l.split(' ')[0]!);
}

/** The file system type mounted exactly at `dir` in this (dockerd's) mount namespace, or undefined. */
function mountedAt(dir: string): string | undefined {
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir);
  return line?.split(' - ')[1]?.split(' ')[0];
}

/** Loop devices whose backing file is under `home` (a left-over volume made ahead keeps one). */
function loopsUnder(home: string): string[] {
  return execFileSync('losetup', ['-a'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`${home}/`));
}

/** Runs `script` in a sandbox as the sandbox user from `/` (a root-only /workspace cannot be the working directory). */
async function execAsUser(driver: SessionDaemon['driver'], id: string, script: string): Promise<{ code: number; out: string }> {
  const ex = await driver.exec(id, { argv: ['/bin/sh', '-c', script], tty: false, cols: 0, rows: 0, env: {}, workdir: '/', user: '64000:64000' });
  let out = '';
  for await (const c of ex.output) out += c.data.toString();
  return { code: await ex.exitCode(), out };
}

function auditActions(home: string): Array<{ action: string; user: string; resource: string }> {
  const dir = join(home, 'dashboard', 'audit');
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { action: string; user: string; resource: string }));
}

const start = (sd: SessionDaemon, repo: string, plan: string) =>
  sd.feature.manager.start(ADMIN, { prd: '', prompt: 'pool', provider: 'script', plan, profile: '', autonomy: 'perpetual', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });

describe('SandboxPool (warm pool)', function () {
  this.timeout(180_000);
  let sd: SessionDaemon | undefined;
  let repo: string;

  before(function () {
    if (!runnerBundleRoot()) this.skip();
    if (SANDBOX_RUNTIME === 'runsc') this.skip(); // gVisor: the pool is off (own test below)
  });

  afterEach(async function () {
    await sd?.cleanup();
    sd = undefined;
    if (repo) removeDir(repo);
  });

  async function poolDaemon(command: string[], size = 1): Promise<SessionDaemon> {
    const d = await startSessionDaemon({
      sessions: { runner_command: command },
      runner: agentRunnerBundle(),
      overrides: { sessions: { runner_command: command }, sandbox: { pool: { size } } },
    });
    await until('the pool to fill', () => d.d.pool!.status().ready === size, 90_000);
    return d;
  }

  it('runs a script session in a claimed slot (made at the session\'s own paths: a claim mounts nothing) and replaces the slot', async function () {
    repo = makeRepo();
    sd = await poolDaemon(['node', '/opt/loki/agent-runner.cjs']);
    const [slot] = poolContainers(sd.d.home);
    // The slot is made for one future session: its workspace volume and agent directory are at that session's
    // paths, made ahead and fresh: an empty ext4 and an empty directory, root-only, unreadable from inside the slot.
    const [slotDir] = readdirSync(join(sd.d.home, 'pool')).filter((f) => f.startsWith('slot-'));
    const future = `ses-${slotDir!.slice('slot-'.length)}`;
    const volume = join(sd.d.home, 'workspaces', future);
    const agentDir = join(sd.d.paths.runDir, 'agents', future);
    assert.equal(mountedAt(volume), 'ext4');
    for (const dir of [volume, agentDir]) {
      assert.deepEqual(readdirSync(dir), []);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(dir).uid, 0);
    }
    assert.ok(existsSync(join(sd.d.home, 'workspaces', '.images', `pool-${slotDir}.img`)));
    for (const dir of ['/workspace', '/run/loki-agent']) {
      const peek = await execAsUser(sd.driver, slot!, `ls -a ${dir}`);
      assert.notEqual(peek.code, 0, `the slot read its unclaimed ${dir}:\n${peek.out}`);
    }
    const mountsBefore = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(sd!.d.home)).length;
    const s = await start(sd, repo, '- write: hello.txt\n  content: "hi\\n"\n- run: cat hello.txt\n- commit: "add hello"\n');
    assert.equal(s.sandboxId, slot, 'the session got the ready slot');
    assert.equal(s.id, future, 'the session took the id the slot was made for');
    // Its workspace is that volume, filled in place at its path; its image goes by the session's name.
    assert.equal(s.workspace, volume);
    assert.equal(mountedAt(s.workspace), 'ext4');
    // The claim mounted nothing: no new mount under the home, and the agent directory is a plain directory.
    assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(sd!.d.home)).length <= mountsBefore, 'a mount was made at the claim');
    assert.equal(mountedAt(agentDir), undefined);
    assert.ok(existsSync(join(sd.d.home, 'workspaces', '.images', `${s.id}.img`)));
    assert.ok(!existsSync(join(sd.d.home, 'workspaces', '.images', `pool-${slotDir}.img`)));
    const done = await until('the session to end', async () => {
      const x = await sd!.feature.manager.get(ADMIN, s.id);
      return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
    }, 90_000);
    assert.equal(done.state, 'completed', done.reason);
    assert.equal(git(repo, 'show', `${s.branch}:hello.txt`), 'hi\n');
    // The claim is audited under the session's owner; the slot's creation under the pool.
    const audit = auditActions(sd.d.home);
    assert.ok(audit.some((e) => e.action === 'sandbox.pool.claim' && e.user === ADMIN.subject && e.resource === `sandbox:${slot}`));
    assert.ok(audit.some((e) => e.action === 'sandbox.start' && e.user === POOL_OWNER && e.resource === `sandbox:${slot}`));
    // Used once: the slot is gone with its session, and a fresh one took its place.
    await until('a replacement slot', () => sd!.d.pool!.status().ready === 1, 90_000);
    const now = poolContainers(sd.d.home);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], slot);
    assert.deepEqual(readdirSync(join(sd.d.home, 'pool')).filter((f) => f.startsWith('slot-')).length, 1, 'the used slot directory is removed');
  });

  it('never carries state from one session to the next: a marker in /tmp, $HOME and /workspace is not seen by the next slot', async function () {
    repo = makeRepo();
    // A stand-in runner that stays up, so the test can look inside.
    sd = await poolDaemon(['/bin/sh', '-c', 'while :; do sleep 1; done']);
    const a = await start(sd, repo, '- run: "true"\n');
    assert.equal(a.state, 'running');
    const wrote = await execIn(sd.driver, a.sandboxId, 'echo x > /tmp/marker && echo x > "$HOME/marker" && echo x > /workspace/marker && ls /workspace');
    assert.equal(wrote.code, 0, wrote.out);
    await sd.feature.manager.stop(ADMIN, a.id);
    await until('a fresh slot', () => sd!.d.pool!.status().ready === 1, 90_000);
    const b = await start(sd, repo, '- run: "true"\n');
    assert.notEqual(b.sandboxId, a.sandboxId);
    const seen = await execIn(sd.driver, b.sandboxId, 'ls -a /tmp "$HOME" /workspace; test ! -e /tmp/marker && test ! -e "$HOME/marker" && test ! -e /workspace/marker');
    assert.equal(seen.code, 0, `the next session saw a marker:\n${seen.out}`);
    // The workspace is the session's own checkout, filled at claim.
    assert.match(seen.out, /README/);
  });

  it('destroys a reserved slot whose claim is refused, and the session starts cold on the workspace filled on its volume', async function () {
    repo = makeRepo();
    // The pool's slots run another command than the sessions ask for: every claim is refused after the fill.
    const idle = ['/bin/sh', '-c', 'while :; do sleep 1; done'];
    sd = await startSessionDaemon({
      sessions: { runner_command: ['/bin/sh', '-c', 'while :; do sleep 2; done'] },
      overrides: { sessions: { runner_command: idle }, sandbox: { pool: { size: 1 } } },
    });
    await until('the pool to fill', () => sd!.d.pool!.status().ready === 1, 90_000);
    const [slot] = poolContainers(sd.d.home);
    const s = await start(sd, repo, '- run: "true"\n');
    assert.equal(s.state, 'running');
    assert.notEqual(s.sandboxId, slot, 'the refused slot did not serve the session');
    await until('the refused slot to go', () => (!poolContainers(sd!.d.home).includes(slot!) ? true : undefined), 30_000);
    const seen = await execIn(sd.driver, s.sandboxId, 'ls /workspace');
    assert.match(seen.out, /README/, 'the cold sandbox has the workspace filled on the volume');
    assert.equal(mountedAt(s.workspace), 'ext4');
    await until('a fresh slot', () => (sd!.d.pool!.status().ready === 1 && !poolContainers(sd!.d.home).includes(slot!) ? true : undefined), 90_000);
  });

  it('serves a session without size-limited workspaces too: the claim binds the workspace onto the slot\'s own directory', async function () {
    repo = makeRepo();
    const idle = ['/bin/sh', '-c', 'while :; do sleep 1; done'];
    const workspace = { max_size: 0 };
    sd = await startSessionDaemon({ sessions: { runner_command: idle, workspace }, runner: agentRunnerBundle(), overrides: { sessions: { runner_command: idle, workspace }, sandbox: { pool: { size: 1 } } } });
    await until('the pool to fill', () => sd!.d.pool!.status().ready === 1, 90_000);
    const [slot] = poolContainers(sd.d.home);
    const [slotDir] = readdirSync(join(sd.d.home, 'pool')).filter((f) => f.startsWith('slot-'));
    assert.equal(mountedAt(join(sd.d.home, 'workspaces', `ses-${slotDir!.slice('slot-'.length)}`)), undefined, 'no volume is made ahead');
    const s = await start(sd, repo, '- run: "true"\n');
    assert.equal(s.sandboxId, slot);
    assert.equal(s.id, `ses-${slotDir!.slice('slot-'.length)}`);
    const seen = await execIn(sd.driver, s.sandboxId, 'ls /workspace; test -S /run/loki-agent/agent.sock');
    assert.equal(seen.code, 0, seen.out);
    assert.match(seen.out, /README/);
  });

  it('destroys the slot reserved for a session that is then refused (sessions.max_concurrent), leaving nothing at its id\'s paths', async function () {
    repo = makeRepo();
    const idle = ['/bin/sh', '-c', 'while :; do sleep 1; done'];
    sd = await startSessionDaemon({ sessions: { runner_command: idle, max_concurrent: 1 }, runner: agentRunnerBundle(), overrides: { sessions: { runner_command: idle }, sandbox: { pool: { size: 1 } } } });
    await until('the pool to fill', () => sd!.d.pool!.status().ready === 1, 90_000);
    const a = await start(sd, repo, '- run: "true"\n');
    assert.equal(a.state, 'running');
    await until('a replacement slot', () => sd!.d.pool!.status().ready === 1, 90_000);
    const [slot] = poolContainers(sd.d.home).filter((id) => id !== a.sandboxId);
    const [slotDir] = readdirSync(join(sd.d.home, 'pool')).filter((f) => f.startsWith('slot-') && !a.id.endsWith(f.slice('slot-'.length)));
    const future = `ses-${slotDir!.slice('slot-'.length)}`;
    await assert.rejects(start(sd, repo, '- run: "true"\n'), { code: 'session_limit_reached' });
    await until('the reserved slot to go', () => (!poolContainers(sd!.d.home).includes(slot!) ? true : undefined), 30_000);
    assert.equal(mountedAt(join(sd.d.home, 'workspaces', future)), undefined);
    assert.ok(!existsSync(join(sd.d.home, 'workspaces', future)) && !existsSync(join(sd.d.paths.runDir, 'agents', future)));
    assert.ok(!existsSync(join(sd.d.home, 'workspaces', '.images', `${slotDir}.img`)) && !existsSync(join(sd.d.home, 'workspaces', '.images', `pool-${slotDir}.img`)));
    await assert.rejects(sd.feature.manager.get(ADMIN, future), { code: 'session_not_found' });
  });

  it('keeps unclaimed slots invisible and unusable to every caller, admin included', async function () {
    sd = await poolDaemon(['/bin/sh', '-c', 'while :; do sleep 1; done']);
    const [slot] = poolContainers(sd.d.home);
    assert.ok(slot);
    const mallory = gatewayCaller('token:mallory', ['read', 'control']);
    const m = sd.d.manager;
    for (const who of [ADMIN, mallory]) {
      assert.ok(!(await m.list(who, true)).some((x) => x.id === slot), `${who.subject} lists the slot`);
      await assert.rejects(m.get(who, slot!), { code: 'sandbox_not_found' });
      await assert.rejects(m.exec(who, slot!, { argv: ['id'], tty: false, cols: 0, rows: 0, env: {}, workdir: '' }), { code: 'sandbox_not_found' });
      await assert.rejects(m.stop(who, slot!, 0, false), { code: 'sandbox_not_found' });
      await assert.rejects(m.remove(who, slot!, true), { code: 'sandbox_not_found' });
    }
    // A user's own `loki sandbox start` never takes a slot (only the daemon's session path claims).
    const own = await m.start(mallory, { name: '', project: '', image: '', command: [], env: {}, limits: {}, relax: { network: false, writableRootfs: false, rootUser: false } });
    assert.notEqual(own.id, slot);
    assert.equal(own.owner, 'token:mallory');
    assert.deepEqual(poolContainers(sd.d.home), [slot]);
    assert.equal(sd.d.pool!.status().ready, 1);
    await m.remove(mallory, own.id, true);
    // `loki status` reports the pool, and counts no ready slot among the sandboxes.
    const system = clientFor(SystemServiceClient, sd.d.paths.adminSocket);
    const st = await unaryCall(system.getStatus.bind(system), {});
    system.close();
    assert.deepEqual(st.sandboxPool, { size: 1, ready: 1, disabled: '' });
    assert.equal(st.sandboxes?.running, 0);
  });

  it('counts ready slots against sandbox.max_sandboxes', async function () {
    sd = await startSessionDaemon({ overrides: { sandbox: { pool: { size: 1 }, max_sandboxes: 2 } } });
    await until('the pool to fill', () => sd!.d.pool!.status().ready === 1, 90_000);
    const m = sd.d.manager;
    const req = { name: '', project: '', image: '', command: [], env: {}, limits: {}, relax: { network: false, writableRootfs: false, rootUser: false } };
    const one = await m.start(ADMIN, req);
    await assert.rejects(m.start(ADMIN, req), { code: 'resource_exhausted', message: /max_sandboxes = 2/ });
    await m.remove(ADMIN, one.id, true);
  });

  it('removes ready slots on shutdown and builds fresh ones on the next start', async function () {
    sd = await poolDaemon(['/bin/sh', '-c', 'while :; do sleep 1; done']);
    const home = sd.d.home;
    const first = poolContainers(home);
    assert.equal(first.length, 1);
    const [slotDir] = readdirSync(join(home, 'pool')).filter((f) => f.startsWith('slot-'));
    const future = `ses-${slotDir!.slice('slot-'.length)}`;
    await sd.d.close();
    assert.deepEqual(poolContainers(home), [], 'shutdown removed the ready slot');
    assert.deepEqual(readdirSync(join(home, 'pool')).filter((f) => f.startsWith('slot-')), []);
    // And what it made at its future session's paths: the volume (unmounted) and the agent directory.
    assert.equal(mountedAt(join(home, 'workspaces', future)), undefined);
    assert.ok(!existsSync(join(home, 'workspaces', future)) && !existsSync(join(sd.d.paths.runDir, 'agents', future)));
    const again = await startSessionDaemon({ home, overrides: { sandbox: { pool: { size: 1 } } } });
    sd = again;
    await until('the pool to refill', () => again.d.pool!.status().ready === 1, 90_000);
    const second = poolContainers(home);
    assert.equal(second.length, 1);
    assert.notEqual(second[0], first[0]);
  });

  it('keeps a claimed slot across a daemon restart: the session re-attaches, the sandbox stays its own', async function () {
    repo = makeRepo();
    const idle = ['/bin/sh', '-c', 'while :; do sleep 1; done'];
    sd = await poolDaemon(idle);
    const home = sd.d.home;
    const s = await start(sd, repo, '- run: "true"\n');
    const [ready] = await until('a replacement slot', () => (sd!.d.pool!.status().ready === 1 ? poolContainers(home).filter((id) => id !== s.sandboxId) : undefined), 90_000);
    await sd.d.close();
    sd = await startSessionDaemon({ home, sessions: { runner_command: idle }, runner: agentRunnerBundle(), overrides: { sessions: { runner_command: idle }, sandbox: { pool: { size: 1 } } } });
    const box = await sd.d.manager.get(ADMIN, s.sandboxId);
    assert.equal(box.session, s.id);
    assert.equal(box.owner, ADMIN.subject);
    assert.equal(box.state, 'running');
    assert.equal((await sd.feature.manager.get(ADMIN, s.id)).state, 'running');
    const ws = await execIn(sd.driver, s.sandboxId, 'ls /workspace');
    assert.match(ws.out, /README/, 'the workspace mount survived the restart');
    await until('a fresh slot', () => (sd!.d.pool!.status().ready === 1 ? true : undefined), 90_000);
    assert.ok(!poolContainers(home).includes(ready!), 'the old ready slot was replaced, not reused');
  });

  it('removes the unclaimed slots a crashed daemon left behind', async function () {
    const home = shortTempDir('lk-pool');
    const env = { LOKI_SANDBOX_POOL_SIZE: '1' };
    const first = await spawnDaemon(home, env);
    let before: string[] = [];
    try {
      before = await until('a slot', () => { const c = poolContainers(home); return c.length === 1 ? c : undefined; }, 90_000);
    } finally {
      await first.stop('SIGKILL');
    }
    assert.deepEqual(poolContainers(home), before, 'SIGKILL left the slot running');
    const [oldSlot] = readdirSync(join(home, 'pool')).filter((f) => f.startsWith('slot-'));
    const oldVolume = join(home, 'workspaces', `ses-${oldSlot!.slice('slot-'.length)}`);
    const oldAgentDir = join(home, 'run', 'agents', `ses-${oldSlot!.slice('slot-'.length)}`);
    assert.equal(mountedAt(oldVolume), 'ext4', 'SIGKILL left the volume made ahead mounted');
    assert.ok(existsSync(oldAgentDir));
    // And what a SIGKILL between a slot's reservation and the fill of its volume leaves: the record and the
    // empty volume at the session's workspace path.
    const session = 'ses-0123456789ab';
    const unfilled = join(home, 'workspaces', session);
    mkdirSync(unfilled);
    await makeEmptyVolume(join(home, 'workspaces', '.images', `${session}.img`), unfilled, 64 * 1024 ** 2);
    writeFileSync(join(home, 'pool', 'reserved', `${session}.json`), JSON.stringify({ session }));
    const second = await spawnDaemon(home, env);
    try {
      const after = await until('a fresh slot', () => { const c = poolContainers(home); return c.length === 1 && c[0] !== before[0] ? c : undefined; }, 90_000);
      assert.notEqual(after[0], before[0]);
      // The orphan's volume is gone with it: not mounted, image deleted, loop device freed.
      assert.ok(!existsSync(join(home, 'pool', oldSlot!)));
      assert.equal(mountedAt(oldVolume), undefined);
      assert.ok(!existsSync(oldVolume) && !existsSync(oldAgentDir), 'the paths made for the slot\'s session are gone');
      assert.ok(!existsSync(join(home, 'workspaces', '.images', `pool-${oldSlot}.img`)));
      assert.equal(mountedAt(unfilled), undefined, 'the unfilled reserved volume is unmounted');
      assert.ok(!existsSync(unfilled) && !existsSync(join(home, 'workspaces', '.images', `${session}.img`)));
      assert.deepEqual(readdirSync(join(home, 'pool', 'reserved')), []);
      await until('the orphan loop device to be freed', () => (loopsUnder(home).some((l) => l.includes(basename(oldSlot!))) ? undefined : true), 10_000);
    } finally {
      await second.stop('SIGTERM');
      removeHomeAfter(home);
    }
    assert.deepEqual(poolContainers(home), [], 'a clean stop removes the ready slot');
    // The kernel frees a loop device once its last mount is gone (autoclear), shortly after the umount.
    await until('the loop devices to be freed', () => (loopsUnder(home).length === 0 ? true : undefined), 10_000);
  });
});

describe('SandboxPool under gVisor (runsc)', function () {
  this.timeout(120_000);
  let sd: SessionDaemon | undefined;
  let repo = '';

  after(async () => {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  before(function () {
    const runtimes = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' });
    if (!runtimes.includes('"runsc"')) this.skip(); // gVisor not registered on this engine
  });

  it('stays off, says why, and sessions start cold with every control', async function () {
    const idle = ['/bin/sh', '-c', 'while :; do sleep 1; done'];
    sd = await startSessionDaemon({ sessions: { runner_command: idle }, overrides: { sessions: { runner_command: idle }, sandbox: { runtime: 'runsc', pool: { size: 1 } } } });
    assert.match(sd.d.pool!.status().disabled, /runsc/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(poolContainers(sd.d.home), []);
    repo = makeRepo();
    const s = await start(sd, repo, '- run: "true"\n');
    assert.equal(s.state, 'running');
    const box = await sd.d.manager.get(ADMIN, s.sandboxId);
    assert.equal(box.owner, ADMIN.subject);
    assert.equal(box.hardening.networkMode, 'none');
    // (This runsc answers EINVAL to a listing of the mount root itself; files under it work.)
    const ws = await execIn(sd.driver, s.sandboxId, 'cat /workspace/README.md');
    assert.equal(ws.code, 0, ws.out);
  });
});
