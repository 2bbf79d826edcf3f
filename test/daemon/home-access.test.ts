// Another host user against what lokid keeps under LOKI_HOME: the store and its
// -wal/-shm files, the audit log and its key, the agent trails and every
// session's workspace (the project's source). As uid 65534 (`nobody`), with a
// session running, nothing can be listed or read — also when the home was made
// by hand (or by an older version) world-readable with its subdirectories
// already there, which lokid tightens; a subdirectory another user owns (who
// could read or swap it while the root daemon writes there) stops lokid.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/src/daemon.js';
import { shortTempDir } from '../helpers/entry.js';
import { openParents, probeAsUser } from '../helpers/as-user.js';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './sessions/helpers.js';

/** Runs as `uid`: reads each file or lists each directory given; prints { path: 'ok' | errno }. */
const PROBE = `
const fs = require('fs');
const out = {};
for (const p of process.argv.slice(1)) {
  try { fs.statSync(p).isDirectory() ? fs.readdirSync(p) : fs.readFileSync(p); out[p] = 'ok'; } catch (e) { out[p] = e.code; }
}
console.log(JSON.stringify(out));
`;

function probeAs(uid: number, paths: string[]): Record<string, string> {
  return probeAsUser(uid, PROBE, paths);
}

describe('LOKI_HOME: another local user reads nothing lokid keeps there', function () {
  this.timeout(120_000);
  let repo: string;
  const daemons: SessionDaemon[] = [];

  before(function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv')) this.skip();
    repo = makeRepo();
    chmodSync(repo, 0o755);
  });

  after(async function () {
    for (const sd of daemons) await sd.cleanup();
    if (repo) removeDir(repo);
  });

  for (const layout of ['a home lokid made', 'a world-readable home made by hand, its subdirectories already there'] as const) {
    it(`refuses uid 65534 the store, audit log and key, trails and workspaces of a live session — ${layout}`, async function () {
      const home = shortTempDir('lkh');
      if (layout.startsWith('a world-readable')) {
        for (const d of ['state', 'workspaces', 'dashboard/audit']) mkdirSync(join(home, d), { recursive: true, mode: 0o755 });
        for (const d of ['state', 'workspaces', 'dashboard', 'dashboard/audit', '.']) chmodSync(join(home, d), 0o755);
      }
      const sd = await startSessionDaemon({ home, sessions: { workspace: { max_size: 0 } } });
      daemons.push(sd);
      const s = await sd.feature.manager.start(ADMIN, { prd: '', prompt: 'x', provider: 'script', plan: '[{"run": "sleep 30"}]', profile: '', autonomy: '', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
      const ws = join(sd.d.paths.workspacesDir, s.id);
      assert.ok(existsSync(join(ws, 'README.md')), 'the workspace holds the project');
      openParents(home);
      const state = sd.d.paths.stateDir;
      const targets = [
        state,
        join(state, 'loki.db'),
        join(state, 'loki.db-wal'),
        join(state, 'loki.db-shm'),
        join(state, 'audit.key'),
        join(state, 'trails'),
        sd.d.paths.auditDir,
        sd.d.paths.workspacesDir,
        ws,
        join(ws, 'README.md'),
      ];
      for (const t of targets) assert.ok(existsSync(t), t);
      const got = probeAs(65534, targets);
      assert.deepEqual(got, Object.fromEntries(targets.map((t) => [t, 'EACCES'])));
      for (const d of [state, sd.d.paths.workspacesDir, sd.d.paths.auditDir]) assert.equal(statSync(d).mode & 0o777, 0o700, d);
    });
  }

  it('will not start on a home whose state or workspaces directory belongs to another user', async function () {
    for (const sub of ['state', 'workspaces']) {
      const home = shortTempDir('lkh');
      mkdirSync(join(home, sub), { mode: 0o700 });
      chownSync(join(home, sub), 65534, 65534);
      await assert.rejects(
        startDaemon({ home, env: { PATH: process.env.PATH ?? '' }, logLevel: 'silent' }),
        (e: Error & { code?: string }) => e.code === 'invalid_config' && e.message.includes(join(home, sub)) && /uid 65534/.test(e.message),
      );
      removeDir(home);
    }
  });
});
