// Only the sandbox reaches its own agent channel. As another host user (uid
// 65534, `nobody`) nothing under the agents directory of a live session can be
// listed or connected to, in the systemd layout (run dir /run/loki made 0755 by
// RuntimeDirectoryMode) and in the `loki up` layout ($LOKI_HOME/run), even with
// every parent directory world-traversable. The sandbox uid itself can connect:
// the check is the file system, not a broken socket.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SANDBOX_UID } from '../../../daemon/src/sandbox/manager.js';
import { shortTempDir } from '../../helpers/entry.js';
import { openParents, probeAsUser } from '../../helpers/as-user.js';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';

/** Runs as `uid`: lists the agents dir and the session dir, connects to each socket; prints the errno codes. */
const PROBE = `
const fs = require('fs'); const net = require('net');
const [agents, id] = process.argv.slice(1);
const out = {};
const code = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
out.list_agents = code(() => fs.readdirSync(agents));
out.list_session = code(() => fs.readdirSync(agents + '/' + id));
out.write_session = code(() => fs.writeFileSync(agents + '/' + id + '/planted', 'x'));
let pending = 0;
for (const s of ['agent.sock', 'model.sock']) {
  pending++;
  const c = net.connect(agents + '/' + id + '/' + s);
  c.on('connect', () => { out[s] = 'ok'; c.destroy(); if (--pending === 0) console.log(JSON.stringify(out)); });
  c.on('error', (e) => { out[s] = e.code; if (--pending === 0) console.log(JSON.stringify(out)); });
}
`;

function probeAs(uid: number, agentsDir: string, sessionId: string): Record<string, string> {
  return probeAsUser(uid, PROBE, [agentsDir, sessionId]);
}

describe('agent sockets: only the session’s sandbox can reach them', function () {
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

  for (const layout of ['systemd (/run/loki 0755)', 'loki up ($LOKI_HOME/run)'] as const) {
    it(`refuses listing and connecting with EACCES for uid 65534 on every socket of a live session — ${layout}`, async function () {
      const home = shortTempDir('lkh');
      const runDir = layout.startsWith('systemd') ? join(shortTempDir('lkr'), 'loki') : join(home, 'run');
      if (layout.startsWith('systemd')) {
        mkdirSync(runDir, { mode: 0o755 });
        chmodSync(runDir, 0o755);
      }
      const sd = await startSessionDaemon({
        home,
        ...(layout.startsWith('systemd') ? { overrides: { sockets: { dir: runDir } } } : {}),
        // An openai session with a configured upstream: it has both agent.sock and model.sock.
        sessions: { openai: { base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-never-used', model: 'm' }, workspace: { max_size: 0 } },
      });
      daemons.push(sd);
      assert.equal(sd.d.paths.runDir, runDir);
      const s = await sd.feature.manager.start(ADMIN, { prd: '', prompt: 'x', provider: 'openai', plan: '', profile: '', autonomy: '', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
      assert.equal((await sd.feature.manager.get(ADMIN, s.id)).state, 'running');
      const agents = join(runDir, 'agents');
      openParents(runDir);

      assert.deepEqual(probeAs(65534, agents, s.id), { list_agents: 'EACCES', list_session: 'EACCES', write_session: 'EACCES', 'agent.sock': 'EACCES', 'model.sock': 'EACCES' });
      // The sandbox's uid may use its own session's sockets, but not list other sessions, nor plant files
      // (a symlink in place of a socket) in a directory the root daemon manages.
      assert.deepEqual(probeAs(DEFAULT_SANDBOX_UID, agents, s.id), { list_agents: 'EACCES', list_session: 'ok', write_session: 'EACCES', 'agent.sock': 'ok', 'model.sock': 'ok' });
      const st = statSync(join(agents, s.id));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, DEFAULT_SANDBOX_UID, 0o750]);
    });
  }
});
