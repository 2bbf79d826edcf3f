// `loki dashboard` in a real terminal (tmux) against a real lokid with a real
// `script` session (real sandbox, agent-runner, git): navigate with send-keys,
// open the session, approve its pending action through the confirmation, see
// it carry on to completion, resize, and quit to a clean shell screen. Then
// the same through a real gateway over HTTP. Captures are kept under
// .loki-test/artifacts/dashboard/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { agentRunnerBundle } from '../../../daemon/src/agent/runner-bundle.js';
import { ADMIN, makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../../daemon/sessions/helpers.js';
import { buildTestGateway, generateToken, type TestGateway } from '../../gateway/helpers.js';
import { entryArgv } from '../../helpers/entry.js';
import { Tmux } from './tmux.js';

const PLAN = `
- write: hello.txt
  content: "hello\\n"
  task: t1
- phase: review
- commit: "add hello"
`;

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A short `loki` wrapper in `dir`, so the command line typed into the pane fits the 80-column
 * resize whatever the checkout path is (a wrapped command line reflows unpredictably).
 */
function lokiWrapper(dir: string, args: string[]): string {
  const file = join(dir, 'loki');
  writeFileSync(file, `#!/bin/sh\nexec ${['node', ...entryArgv('cli'), ...args].map(shq).join(' ')} "$@"\n`, { mode: 0o755 });
  return shq(file);
}

describe('loki dashboard in tmux against a real daemon', function () {
  this.timeout(200_000);
  let sd: SessionDaemon;
  let repo: string;
  let tmux: Tmux | null = null;

  before(async function () {
    if (!runnerBundleRoot() || !hasTmux()) this.skip(); // needs `npm run build` (the runner bundle) and tmux
    repo = makeRepo();
    const root = runnerBundleRoot()!;
    sd = await startSessionDaemon({ sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'] }, runner: agentRunnerBundle(root) });
  });

  afterEach(() => {
    tmux?.kill();
    tmux = null;
  });

  after(async () => {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  async function startSession(owner = ADMIN): Promise<string> {
    const s = await sd.feature.manager.start(owner, { prd: 'docs/prd.md', prompt: '', provider: 'script', plan: PLAN, profile: '', autonomy: 'checkpoint', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 0, network: false });
    return s.id;
  }

  /** Opens the session, approves it through the confirmation and waits for it to complete on screen. */
  async function approveThrough(t: Tmux, id: string, tag: string): Promise<void> {
    let screen = await t.until((x) => x.includes(id), `session ${id} listed`);
    // Select it (newest first, so it is on top) and open it.
    t.send('', 'Enter');
    screen = await t.until((x) => x.includes(`Session ${id}`) && x.includes('Waiting for approval (1)'), 'the pending approval in the session detail', 90_000);
    t.save(`${tag}-1-detail-pending`, screen);
    assert.match(screen, /phase review/);
    t.send('a');
    screen = await t.until((x) => x.includes(`Approve this phase action for session ${id}?`), 'the confirmation');
    t.send('looks right');
    screen = await t.until((x) => x.includes('Comment (optional): looks right_'), 'the typed comment');
    t.save(`${tag}-2-confirm`, screen);
    assert.match(screen, /phase review/);
    t.send('', 'Enter');
    screen = await t.until((x) => /approved \S+: phase review/.test(x), 'the approval result');
    screen = await t.until((x) => x.includes(`Session ${id}`) && /completed · script/.test(x), 'the session to carry on and complete', 90_000);
    t.save(`${tag}-3-completed`, screen);
    assert.match(screen, /#\d+ /, 'events are listed');
    assert.match(screen, /diff 1 file \+1 -0 · 1 commit/);
  }

  it('navigates, approves through the confirmation, survives a resize and quits to a clean screen (admin socket, gRPC)', async function () {
    const t = (tmux = new Tmux(120, 40, {}));
    await t.until((x) => x.includes('$'), 'the shell prompt');
    t.send(`${lokiWrapper(sd.d.home, ['--socket', sd.d.paths.adminSocket])} dashboard`, 'Enter');
    let screen = await t.until((x) => x.includes('LIVE') && x.includes('daemon ok'), 'the dashboard to connect');
    assert.match(screen, /grpc .*admin\.sock/);
    t.save('grpc-0-empty', screen);
    const id = await startSession();
    await approveThrough(t, id, 'grpc');
    const done = await until('completed in the daemon', async () => (await sd.feature.manager.get(ADMIN, id)).state === 'completed', 30_000);
    assert.ok(done);

    // Resize: every line fits the new width, one status bar, no torn header.
    t.resize(80, 24);
    // tmux reflows the old frame on its own (the header scrolls off, long lines split); the redraw
    // is the frame whose header is back on top and whose status bar is one line cut to the width.
    screen = await t.until((x) => x.startsWith('loki dashboard') && /^LIVE .*…$/m.test(x), 'the redraw at 80x24', 10_000);
    t.save('grpc-4-resized-80x24', screen);
    for (const line of screen.split('\n')) assert.ok([...line].length <= 80, `line wider than the pane: ${JSON.stringify(line)}`);
    assert.equal(screen.match(/loki dashboard/g)?.length, 1, 'one header after the resize');
    assert.equal(screen.match(/^LIVE /gm)?.length, 1, 'one status bar after the resize');
    assert.ok(screen.trimEnd().split('\n').length <= 24, 'the frame fits the 24 rows');

    // Back to the list with esc, then quit.
    t.send('', 'Escape');
    screen = await t.until((x) => x.includes('Sessions (1)'), 'the list again');
    t.send('q');
    screen = await t.until((x) => !x.includes('loki dashboard') && /\$ $/m.test(x.trimEnd() + ' '), 'the shell after q');
    t.save('grpc-5-after-quit', screen);
    assert.ok(!screen.includes('Sessions ('), 'no dashboard left on the shell screen');
    assert.match(screen, /dashboard\n/);
    // The shell answers normally: the terminal is out of raw mode with the cursor shown.
    t.send('echo still-$((40+2))', 'Enter');
    screen = await t.until((x) => x.includes('still-42'), 'the shell to echo');
    t.save('grpc-6-shell-works', screen);
  });

  it('does the same through a real gateway over HTTP', async function () {
    const { secret } = await generateToken(sd.d.paths.adminSocket, { name: 'dash-op', role: 'admin' });
    const gw: TestGateway = await buildTestGateway({ socket: sd.d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    try {
      await gw.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (gw.app.server.address() as AddressInfo).port;
      const t = (tmux = new Tmux(120, 40, { LOKI_TOKEN: secret }));
      await t.until((x) => x.includes('$'), 'the shell prompt');
      // The token travels in the environment, not on the visible command line.
      t.send(`${lokiWrapper(sd.d.home, [])} --url http://127.0.0.1:${port} dashboard`, 'Enter');
      const screen = await t.until((x) => x.includes('LIVE') && x.includes('daemon ok'), 'the dashboard to connect over HTTP');
      assert.match(screen, new RegExp(`http http://127\\.0\\.0\\.1:${port}`));
      t.save('http-0-connected', screen);
      const id = await startSession();
      await approveThrough(t, id, 'http');
      t.send('q');
      await t.until((x) => !x.includes('loki dashboard'), 'the shell after q');
    } finally {
      await gw.close();
    }
  });
});
