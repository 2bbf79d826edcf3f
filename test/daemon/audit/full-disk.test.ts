// RUNBOOK "A full disk", with the audit log on its own small file system (a
// tmpfs) that is filled up: an action whose audit entry cannot be written is
// refused (unavailable, CLI exit 8) and leaves nothing behind that still works
// or still counts as active, and everything recovers once there is room again.
// Real daemon, real files, the real CLI spawned on the admin socket.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { spawnDaemon, startTestDaemon, type DaemonProcess } from '../../helpers/daemon.js';
import { lokiProcess, shortTempDir } from '../../helpers/entry.js';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, until, type SessionDaemon } from '../sessions/helpers.js';

function input(over: Partial<StartSessionInput>): StartSessionInput {
  return { prd: '', prompt: 'x', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false, ...over };
}

/** Fills the file system under `dir` with one file, until ENOSPC. */
function fill(dir: string): string {
  const f = join(dir, 'filler');
  const chunk = Buffer.alloc(4096, 0x61);
  try {
    for (let i = 0; i < 100_000; i++) writeFileSync(f, chunk, { flag: 'a' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  return f;
}

/**
 * Uses up what is left in the audit file's last page: tmpfs charges whole pages, and lokid's first
 * start already wrote an entry (its local-admin token), so a full disk still takes a few more lines.
 */
async function padAudit(sd: SessionDaemon): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await sd.d.audit.audit.record({ action: 'test.pad', user: 'system', resource: 'test:pad', result: 'success', details: { pad: 'x'.repeat(200) } });
    } catch {
      return;
    }
  }
  throw new Error('the audit log never filled up');
}

describe('audit log on a full disk', function () {
  this.timeout(120_000);
  let home: string;
  let auditDir: string;
  let sd: SessionDaemon | undefined;

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const r = await lokiProcess(home, sd!.d.paths.adminSocket, args);
    return { code: r.code, stdout: r.out, stderr: r.err };
  }

  beforeEach(async function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting a tmpfs needs root
    home = shortTempDir('lkfull');
    auditDir = join(home, 'dashboard', 'audit');
    mkdirSync(auditDir, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', auditDir]);
    sd = await startSessionDaemon({ home });
  });

  afterEach(async function () {
    if (!sd) return;
    execFileSync('umount', ['-l', auditDir]);
    await sd.cleanup();
    sd = undefined;
  });

  it('stores no token whose creation could not be audited, and leaves the name usable', async function () {
    const filler = fill(auditDir);
    await padAudit(sd!);
    const r = await cli('enterprise', 'token', 'generate', 'on-full-disk', '--role', 'viewer');
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /the audit log could not be written/);
    assert.doesNotMatch(r.stdout, /loki_/, 'no secret is printed for a refused token');
    const listed = JSON.parse((await cli('enterprise', 'token', 'list', '--all', '--json')).stdout) as { tokens: Array<{ name: string; revoked_at: string | null }> };
    const made = listed.tokens.filter((t) => t.name === 'on-full-disk');
    assert.deepEqual(made, [], 'the token was never stored');

    rmSync(filler);
    const again = await cli('enterprise', 'token', 'generate', 'on-full-disk', '--role', 'viewer');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /loki_/);
  });

  // The registry's grant and its removal: refused with nothing changed, never done and answered as failed.
  it('registers no project whose registration could not be audited, and removes none whose removal could not', async function () {
    const kept = makeRepo();
    const refused = makeRepo();
    try {
      assert.equal((await cli('projects', 'register', kept, '--name', 'kept')).code, 0);
      const filler = fill(auditDir);
      await padAudit(sd!);
      const names = async () => (JSON.parse((await cli('projects', 'list', '--json')).stdout) as { projects: Array<{ name: string }> }).projects.map((p) => p.name);

      const r = await cli('projects', 'register', refused, '--name', 'refused');
      assert.equal(r.code, 8, r.stderr);
      assert.match(r.stderr, /the audit log could not be written/);
      const rm = await cli('projects', 'remove', 'kept');
      assert.equal(rm.code, 8, rm.stderr);
      assert.match(rm.stderr, /the audit log could not be written/);
      assert.deepEqual(await names(), ['kept'], 'the refused registration stored nothing and the refused removal removed nothing');

      rmSync(filler);
      assert.equal((await cli('projects', 'register', refused, '--name', 'refused')).code, 0);
      assert.equal((await cli('projects', 'remove', 'kept')).code, 0);
      assert.deepEqual(await names(), ['refused']);
      const audit = (await cli('enterprise', 'audit', 'tail', '--json')).stdout;
      assert.match(audit, /"action":"project.register".*"resource":"project:refused".*"result":"success"/);
      assert.match(audit, /"action":"project.remove".*"resource":"project:kept".*"result":"success"/);
    } finally {
      removeDir(kept);
      removeDir(refused);
    }
  });

  // A prune's entry is the record of the deleted branches' commits: no entry, no deletion.
  it('deletes no session branch whose pruning could not be audited', async function () {
    const repo = makeRepo();
    try {
      assert.equal((await cli('projects', 'register', repo, '--name', 'pruned')).code, 0);
      const orphan = 'loki/session-1700000000-77';
      execFileSync('git', ['branch', orphan], { cwd: repo });
      const commit = execFileSync('git', ['rev-parse', orphan], { cwd: repo, encoding: 'utf8' }).trim();
      const filler = fill(auditDir);
      await padAudit(sd!);
      const r = await cli('projects', 'prune', 'pruned', '--yes');
      assert.equal(r.code, 8, r.stderr);
      assert.match(r.stderr, /the audit log could not be written/);
      assert.equal(execFileSync('git', ['branch', '--list', orphan], { cwd: repo, encoding: 'utf8' }).trim(), orphan, 'the branch is still there');

      rmSync(filler);
      assert.equal((await cli('projects', 'prune', 'pruned', '--yes')).code, 0);
      assert.equal(execFileSync('git', ['branch', '--list', orphan], { cwd: repo, encoding: 'utf8' }).trim(), '');
      const audit = (await cli('enterprise', 'audit', 'tail', '--event', 'project.prune', '--json')).stdout;
      assert.ok(audit.includes(`"pruned:${orphan}@${commit.slice(0, 12)}"`), audit);
    } finally {
      removeDir(repo);
    }
  });

  it('ends a session whose start could not be audited as failed once there is room, instead of leaving it starting', async function () {
    const repo = makeRepo();
    try {
      const m = sd!.feature.manager;
      const filler = fill(auditDir);
      await padAudit(sd!);
      await assert.rejects(m.start(ADMIN, input({ projectPath: repo })), (err: Error & { code?: string }) => err.code === 'unavailable');
      const [s] = await m.list(ADMIN, true);
      assert.ok(s, 'the refused start left a session record');
      rmSync(filler);
      const ended = await until('the session ends', async () => {
        const x = await m.get(ADMIN, s.id);
        return x.state === 'failed' ? x : undefined;
      }, 10_000);
      assert.match(ended.reason, /start/);
      const audit = await cli('enterprise', 'audit', 'tail', '--event', 'session.stop', '--json');
      assert.equal(audit.code, 0, audit.stderr);
      assert.match(audit.stdout, new RegExp(`"resource":"session:${s.id}".*"result":"error"`), 'its end is in the audit log');
      assert.equal((await m.metrics(ADMIN)).active, 0, 'it no longer counts as active');
    } finally {
      removeDir(repo);
    }
  });
});

describe('state database on a full disk', function () {
  this.timeout(60_000);
  let home: string;
  let stateDir: string;
  let d: Awaited<ReturnType<typeof startTestDaemon>> | undefined;

  beforeEach(async function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting a tmpfs needs root
    home = shortTempDir('lkfulls');
    stateDir = join(home, 'state');
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', stateDir]);
    d = await startTestDaemon({ home });
  });

  afterEach(async function () {
    if (!d) return;
    execFileSync('umount', ['-l', stateDir]);
    await d.cleanup();
    d = undefined;
  });

  it('refuses a write with a clear unavailable error (exit 8) naming the full disk, not "internal error"', async function () {
    const run = async (...args: string[]) => {
      const r = await lokiProcess(home, d!.paths.adminSocket, args);
      return { code: r.code, stdout: r.out, stderr: r.err };
    };
    const filler = fill(stateDir);
    const r = await run('enterprise', 'token', 'generate', 'on-full-state', '--role', 'viewer');
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /state database could not be written: the disk under \$LOKI_HOME\/state is full/);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    rmSync(filler);
    const again = await run('enterprise', 'token', 'generate', 'on-full-state', '--role', 'viewer');
    assert.equal(again.code, 0, again.stderr);
  });
});

describe('audit directory not writable at startup', function () {
  this.timeout(60_000);
  let home = '';
  let auditDir = '';
  let d: DaemonProcess | undefined;

  before(function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting a tmpfs needs root
    home = shortTempDir('lkro');
    auditDir = join(home, 'dashboard', 'audit');
    mkdirSync(auditDir, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k,mode=0700', 'tmpfs', auditDir]);
  });
  after(async function () {
    await d?.stop();
    if (auditDir) execFileSync('umount', ['-l', auditDir]);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('says at startup, as an error, that every audited action will be refused (not only "audit log enabled")', async function () {
    d = await spawnDaemon(home);
    const said = () => d!.output().split('\n').filter((l) => l.includes('the audit directory is not writable'));
    for (let i = 0; i < 50 && said().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const [line] = said();
    assert.ok(line, d.output());
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.equal(entry.level, 'error');
    assert.equal(entry.dir, auditDir);
    assert.equal(entry.code, 'EROFS');
    assert.match(String(entry.msg), /will be refused until it is/);
    // It still starts; its first-run token, which could not be audited, is not made (nor its file).
    assert.match(d.output(), /the first-run admin token was not created: its audit entry could not be written/);
    assert.equal(existsSync(join(home, 'cli-token')), false);
  });
});
