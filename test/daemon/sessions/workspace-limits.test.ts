// Workspaces cannot fill the host and do not pile up: a per-session size limit
// the agent hits as ENOSPC, a free-space guard for new sessions, retention, and
// `rm` / `prune` that remove exactly what they report (audited).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { isMountPoint } from '../../../daemon/src/sessions/workspace-volume.js';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { ADMIN, execIn, gatewayCaller, makeRepo, removeDir, startSessionDaemon, until, type SessionDaemon } from './helpers.js';
import { lokiOn } from '../../helpers/capture.js';

const LIMIT = 32 * 1024 * 1024;

function input(repo: string): StartSessionInput {
  return { prd: '', prompt: 'fill the disk', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false };
}

function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

function audit(home: string): { action: string; user: string; resource: string; details: Record<string, unknown> }[] {
  const dir = join(home, 'dashboard', 'audit');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { action: string; user: string; resource: string; details: Record<string, unknown> });
}

function cli(sd: SessionDaemon, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return lokiOn(sd.d.paths.adminSocket, ...args);
}

describe('session workspaces: size limit, free-space guard, retention, rm and prune', function () {
  this.timeout(120_000);
  let repo: string;
  let sd: SessionDaemon;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // loop mounts need root
    repo = makeRepo();
    sd = await startSessionDaemon({ sessions: { max_concurrent: 20, workspace: { max_size: LIMIT, min_free: '1g', retention_hours: 0 } } });
  });

  after(async function () {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  it('stops a write at the limit with ENOSPC inside the sandbox; the host keeps its free space', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input(repo));
    const ws = (await m.get(ADMIN, s.id)).workspace;
    assert.ok(isMountPoint(ws), 'the workspace is its own file system');
    const before = freeBytes(sd.d.paths.workspacesDir);
    const r = await execIn(sd.driver, s.sandboxId || (await m.get(ADMIN, s.id)).sandboxId, 'dd if=/dev/zero of=/workspace/big.bin bs=1M count=512 2>&1; echo "dd=$?"; df -k /workspace | tail -1');
    assert.match(r.out, /No space left on device/);
    assert.match(r.out, /dd=1/);
    // Other processes share this disk, so the bound is loose: 512 MiB were written, at most the limit landed.
    const used = before - freeBytes(sd.d.paths.workspacesDir);
    assert.ok(used < 256 * 1024 * 1024, `the host lost ${used} bytes for a ${LIMIT}-byte workspace`);
    const image = statSync(join(sd.d.paths.workspacesDir, '.images', `${s.id}.img`));
    assert.ok(image.blocks * 512 <= LIMIT, 'the image never grows past the limit');
    // The project files are there and the workspace keeps working once the agent cleans up.
    const again = await execIn(sd.driver, (await m.get(ADMIN, s.id)).sandboxId, 'rm /workspace/big.bin && echo ok > /workspace/after.txt && cat /workspace/README.md && git -C /workspace status --porcelain');
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /# project/);
    assert.doesNotMatch(again.out, /lost\+found/);
    await m.stop(ADMIN, s.id);
  });

  it('where no size-limited mount is possible (enforce: watch), stops a session whose workspace grows past the limit, with the reason', async function () {
    const watched = await startSessionDaemon({ sessions: { workspace: { max_size: LIMIT, min_free: '1g', enforce: 'watch' } } });
    try {
      const m = watched.feature.manager;
      const s = await m.start(ADMIN, input(repo));
      const cur = await m.get(ADMIN, s.id);
      assert.equal(isMountPoint(cur.workspace), false);
      // The write itself succeeds (nothing limits it) unless the daemon stops the sandbox mid-write, which is also fine.
      await execIn(watched.driver, cur.sandboxId, 'dd if=/dev/zero of=/workspace/big.bin bs=1M count=64 2>&1').catch(() => undefined);
      const ended = await until('the daemon to stop the session', async () => {
        const x = await m.get(ADMIN, s.id);
        return x.state === 'stopped' ? x : undefined;
      }, 30_000);
      assert.match(ended.reason, /the workspace uses .* over sessions\.workspace\.max_size \(32 MiB\)/);
      assert.equal(await watched.driver.get(cur.sandboxId), undefined, 'the container is gone');
    } finally {
      await watched.cleanup();
    }
  });

  it('refuses a new session when the state directory would be left with less than min_free', async function () {
    const tight = await startSessionDaemon({ sessions: { workspace: { max_size: LIMIT, min_free: '1000t' } } });
    try {
      const m = tight.feature.manager;
      await assert.rejects(m.start(ADMIN, input(repo)), (err) => {
        assert.ok(err instanceof LokiError);
        assert.equal(err.kind, 'resource_exhausted');
        assert.match(err.message, /not enough free disk space for a new session: .* free under .*sessions\.workspace\.min_free/);
        return true;
      });
      assert.deepEqual(await m.list(ADMIN, true), [], 'nothing was created');
    } finally {
      await tight.cleanup();
    }
  });

  it('rm removes an ended session’s workspace, image and container, audited; a running one must be stopped first', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input(repo));
    await assert.rejects(m.remove(ADMIN, s.id), (err) => err instanceof LokiError && err.kind === 'failed_precondition' && /stop it first/.test(err.message));
    const stopped = await m.stop(ADMIN, s.id);
    assert.equal(stopped.state, 'stopped');
    const ws = stopped.workspace;
    assert.ok(isMountPoint(ws), 'retained after bring-back (retention_hours 0 keeps it)');
    // Someone else's session looks like no session at all.
    await assert.rejects(m.remove(gatewayCaller('token:mallory', ['read', 'control']), s.id), (err) => err instanceof LokiError && err.kind === 'not_found');

    const r = await cli(sd, 'sessions', 'rm', s.id, '--json');
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as { session: { id: string; workspace_removed: boolean }; freed_bytes: number };
    assert.equal(out.session.id, s.id);
    assert.equal(out.session.workspace_removed, true);
    assert.ok(out.freed_bytes > 0);
    assert.equal(existsSync(ws), false);
    assert.equal(existsSync(join(sd.d.paths.workspacesDir, '.images', `${s.id}.img`)), false);
    assert.equal(await sd.driver.get(stopped.sandboxId), undefined);
    assert.ok((await m.get(ADMIN, s.id)).workspaceRemovedAtMs > 0, 'the record stays, marked');
    assert.ok(audit(sd.d.home).some((e) => e.action === 'session.remove' && e.resource === `session:${s.id}` && e.user === 'local:0'));
    // Twice is harmless.
    assert.equal((await m.remove(ADMIN, s.id)).freedBytes, 0);
  });

  it('rm racing rm (or retention) tears down once: one session.remove audit entry, one workspace_removed event', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input(repo));
    await m.stop(ADMIN, s.id);
    const results = await Promise.all([m.remove(ADMIN, s.id), m.remove(ADMIN, s.id), m.remove(ADMIN, s.id)]);
    assert.equal(results.filter((r) => r.freedBytes > 0).length, 1, 'exactly one removal freed the space');
    for (const r of results) assert.ok(r.session.workspaceRemovedAtMs > 0, 'every caller sees it removed');
    const entries = audit(sd.d.home).filter((e) => e.action === 'session.remove' && e.resource === `session:${s.id}`);
    assert.equal(entries.length, 1, 'one audit entry for one removal');
    const kinds: string[] = [];
    for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) kinds.push(e.type);
    assert.equal(kinds.filter((k) => k === 'workspace_removed').length, 1);
  });

  it('prune removes exactly the ended sessions it reports, honours --older-than and --dry-run, and leaves running ones alone', async function () {
    const m = sd.feature.manager;
    // Whatever earlier tests left: start from a clean slate.
    await m.prune(ADMIN, 0, false);
    const ended = [await m.start(ADMIN, input(repo)), await m.start(ADMIN, input(repo))];
    for (const s of ended) await m.stop(ADMIN, s.id);
    const running = await m.start(ADMIN, input(repo));

    const young = await cli(sd, 'sessions', 'prune', '--older-than', '1h', '--json');
    assert.equal(young.code, 0, young.err);
    assert.deepEqual(JSON.parse(young.out), { removed: [], freed_bytes: 0, dry_run: false });

    const dry = JSON.parse((await cli(sd, 'sessions', 'prune', '--dry-run', '--json')).out) as { removed: string[] };
    assert.deepEqual(dry.removed.sort(), ended.map((s) => s.id).sort());
    for (const s of ended) assert.ok(existsSync((await m.get(ADMIN, s.id)).workspace), 'a dry run removes nothing');

    const bad = await cli(sd, 'sessions', 'prune', '--older-than', 'soon');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /expected a duration such as 90s, 30m, 12h, 7d or 2w/);

    const done = await cli(sd, 'sessions', 'prune', '--json');
    const pruned = JSON.parse(done.out) as { removed: string[]; freed_bytes: number };
    assert.deepEqual([...pruned.removed].sort(), ended.map((s) => s.id).sort());
    assert.ok(pruned.freed_bytes > 0);
    for (const s of ended) assert.equal(existsSync((await m.get(ADMIN, s.id)).workspace), false, `${s.id} is gone`);
    const live = await m.get(ADMIN, running.id);
    assert.equal(live.state, 'running');
    assert.ok(isMountPoint(live.workspace), 'the running session keeps its workspace');
    const sorted = (x: unknown) => JSON.stringify([...(x as string[])].sort());
    assert.ok(audit(sd.d.home).some((e) => e.action === 'session.prune' && sorted(e.details.removed) === sorted(pruned.removed)));
    await m.stop(ADMIN, running.id);
  });

  it('removes a workspace by itself once retention_hours have passed since the session ended', async function () {
    const short = await startSessionDaemon({ sessions: { workspace: { max_size: LIMIT, min_free: '1g', retention_hours: 1 / 3600 } } });
    try {
      const m = short.feature.manager;
      const s = await m.start(ADMIN, input(repo));
      const ws = (await m.get(ADMIN, s.id)).workspace;
      await m.stop(ADMIN, s.id);
      await until('the retention to remove the workspace', async () => (await m.get(ADMIN, s.id)).workspaceRemovedAtMs > 0, 20_000);
      assert.equal(existsSync(ws), false);
      const ev = audit(short.d.home).find((e) => e.action === 'session.remove' && e.resource === `session:${s.id}`);
      assert.equal(ev?.user, 'system');
      assert.match(String(ev?.details.reason), /retention/);
    } finally {
      await short.cleanup();
    }
  });
});
