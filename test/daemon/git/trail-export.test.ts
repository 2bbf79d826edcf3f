// git.export_agent_audit writes the agent trail into the project, which a user
// owns and can change while lokid (root) writes. Played here as that owner
// (uid 65534): a link where the project directory or a directory above it was,
// and a loop that swaps `.loki/logs` for a link to a root-only directory while
// lokid exports. On the earlier code (lstat, then mkdir/unlink/open as root)
// root wrote `agent-audit.jsonl` into the root-only directory.
import assert from 'node:assert/strict';
import { chownSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { AgentTrail } from '../../../daemon/src/git/trail.js';
import { openParents, probeAsUser, spawnAsUser } from '../../helpers/as-user.js';
import { tempDir } from './helpers.js';

const OWNER = 65534;

// The owner's loop: `.loki/logs` is, by turns, their directory and a link to `target`.
const SWAPPER = `
const fs = require('node:fs');
const [dotLoki, target, ms] = process.argv.slice(1);
process.chdir(dotLoki);
const end = Date.now() + Number(ms);
let n = 0;
while (Date.now() < end) {
  try { fs.renameSync('logs', 'real'); fs.symlinkSync(target, 'logs'); n++; } catch {}
  try { fs.unlinkSync('logs'); } catch {}
  try { fs.renameSync('real', 'logs'); } catch {}
}
console.log(n);
`;

const unsafe = (e: unknown) => e instanceof LokiError && e.code === 'unsafe_workspace';

describe('AgentTrail.exportTo in a project another user owns', function () {
  this.timeout(60_000);
  let dir: string;
  let trail: AgentTrail;
  let rootOnly: string;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
  });
  beforeEach(() => {
    dir = tempDir('h19-trail-');
    openParents(dir);
    trail = new AgentTrail({ dir: join(dir, 'trails') });
    trail.append('ses-1', { action: 'git_commit', agent: 'development', details: { message: 'text the agent chose' } });
    rootOnly = join(dir, 'root-only');
    mkdirSync(rootOnly, { mode: 0o700 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A project directory of OWNER's (and `.loki/logs` in it when asked). */
  function ownersProject(parent = dir, withLogs = false): string {
    const project = join(parent, 'project');
    mkdirSync(withLogs ? join(project, '.loki', 'logs') : project, { recursive: true });
    for (const d of withLogs ? [project, join(project, '.loki'), join(project, '.loki', 'logs')] : [project]) chownSync(d, OWNER, OWNER);
    return project;
  }

  it('writes the copy as the owner: the directories and the file it makes are theirs, and they can remove them', async () => {
    const project = ownersProject();
    const dest = await trail.exportTo('ses-1', project);
    assert.equal(dest, join(project, '.loki', 'logs', 'agent-audit.jsonl'));
    assert.match(readFileSync(dest, 'utf8'), /text the agent chose/);
    assert.equal(lstatSync(dest).mode & 0o777, 0o444);
    for (const p of [join(project, '.loki'), join(project, '.loki', 'logs'), dest]) assert.equal(lstatSync(p).uid, OWNER, `${p} belongs to the owner`);
    // A second export replaces the read-only copy.
    trail.append('ses-1', { action: 'session_finish', agent: 'loki' });
    await trail.exportTo('ses-1', project);
    assert.equal(readFileSync(dest, 'utf8').trim().split('\n').length, 2);
    // Root-owned `.loki/logs` (the earlier code) left the owner unable to clean up their own project.
    const rm = probeAsUser(OWNER, `const fs = require('node:fs'); try { fs.rmSync(process.argv[1], { recursive: true }); console.log('{"rm":"ok"}'); } catch (e) { console.log(JSON.stringify({ rm: e.code })); }`, [join(project, '.loki')]);
    assert.deepEqual(rm, { rm: 'ok' });
  });

  it('refuses a project directory the owner replaced with a link (a name the old lstat checks never looked at)', async () => {
    const project = join(dir, 'project');
    symlinkSync(rootOnly, project);
    await assert.rejects(async () => trail.exportTo('ses-1', project), unsafe);
    assert.deepEqual(readdirSync(rootOnly), [], 'nothing was written where the link leads');
  });

  it('refuses when a directory above the project became a link (the held directory is not the project path)', async () => {
    // The owner's directory holding the project, swapped for a link to a root-only tree that has a `project` in it.
    const parent = join(dir, 'owner');
    mkdirSync(parent);
    chownSync(parent, OWNER, OWNER);
    const project = ownersProject(parent);
    mkdirSync(join(rootOnly, 'project'));
    rmSync(parent, { recursive: true });
    symlinkSync(rootOnly, parent);
    await assert.rejects(async () => trail.exportTo('ses-1', project), (e: unknown) => unsafe(e) && /now leads to .*root-only\/project/.test((e as Error).message));
    assert.deepEqual(readdirSync(join(rootOnly, 'project')), []);
  });

  it('writes nothing into a root-only directory while the owner swaps .loki/logs for a link to it', async () => {
    const project = ownersProject(dir, true);
    const swapper = spawnAsUser(OWNER, SWAPPER, [join(project, '.loki'), rootOnly, '8000']);
    const hit = join(rootOnly, 'agent-audit.jsonl');
    let exports = 0;
    let refused = 0;
    const failed: string[] = [];
    try {
      await new Promise((r) => setTimeout(r, 300));
      const end = Date.now() + 6000;
      // The same wall-clock budget for the old code (an export took microseconds) and the new (a process per export).
      while (Date.now() < end && !existsSync(hit)) {
        exports++;
        try {
          await trail.exportTo('ses-1', project);
        } catch (e) {
          if (e instanceof LokiError) refused++;
          else failed.push(String(e));
        }
      }
    } finally {
      swapper.child.kill();
      await swapper.exited;
    }
    assert.equal(existsSync(hit), false, `root wrote ${hit} after ${exports} exports (${refused} refused, ${failed.length} failed)`);
    assert.deepEqual(readdirSync(rootOnly), []);
    assert.deepEqual(failed.slice(0, 3), [], 'every refusal is a LokiError with its reason');
    assert.ok(exports > 10, `exports ran (${exports}, ${refused} refused)`);
  });

  it('writes a project root owns as root only when no one else may change its directories', async () => {
    const project = join(dir, 'shared');
    mkdirSync(project);
    chmodSync(project, 0o775);
    await assert.rejects(async () => trail.exportTo('ses-1', project), (e: unknown) => unsafe(e) && /writable by users other than root/.test((e as Error).message));
    chmodSync(project, 0o755);
    const dest = await trail.exportTo('ses-1', project);
    assert.equal(lstatSync(dest).uid, 0);
  });
});
