// WorkspaceManager.patch: the unified diff of a session branch against its
// pinned base, computed in the project repository and cut at a line boundary.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { agentGit, agentWrite, gitFixture, makeProject, refSnapshot, type GitFixture } from './helpers.js';

describe('WorkspaceManager.patch', () => {
  let fx: GitFixture;
  let project: string;
  afterEach(() => fx?.close());

  async function sessionWithCommit(sessionId: string, lines: number): Promise<string> {
    fx = gitFixture();
    project = makeProject(fx.root);
    await fx.projects.register(project, { registeredBy: 'local:0' });
    const ws = await fx.workspaces.createWorkspace({ project: 'proj', sessionId, pid: 1, owner: 'local:0' });
    agentWrite(join(ws.path, 'big.txt'), Array.from({ length: lines }, (_, i) => `line ${i}`).join('\n') + '\n');
    agentGit(ws.path, 'add', '-A');
    agentGit(ws.path, 'commit', '--quiet', '-m', 'add big');
    return agentGit(ws.path, 'rev-parse', 'HEAD');
  }

  it('returns the whole patch from the base commit to the session head, leaving the project refs alone', async () => {
    const head = await sessionWithCommit('p1', 3);
    const before = refSnapshot(project);
    const p = await fx.workspaces.patch('p1');
    assert.equal(p.headCommit, head);
    assert.equal(p.truncated, false);
    assert.match(p.patch, /^diff --git a\/big.txt b\/big.txt$/m);
    assert.match(p.patch, /^\+line 2$/m);
    assert.equal(refSnapshot(project), before);
  });

  it('cuts a patch over the limit at a line boundary and says so', async () => {
    await sessionWithCommit('p2', 2000);
    const p = await fx.workspaces.patch('p2', 1000);
    assert.equal(p.truncated, true);
    assert.ok(Buffer.byteLength(p.patch) <= 1000);
    assert.ok(p.patch.endsWith('\n'));
  });
});
