import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../common/src/index.js';
import { createAgentChannels } from '../../daemon/src/agent/index.js';
import { quietLogger } from '../helpers/daemon.js';
import { recordingHooks, scriptBrief, type RecordingHooks } from '../daemon/agent/hooks.js';
import { ADMIN, gitWorkspace, sandboxRun, type SandboxRun } from './sandbox.js';
import { LEFTOVER_COMMIT_MESSAGE } from '../../agent-runner/src/run.js';

describe('agent-runner script provider in a real sandbox', function () {
  this.timeout(120_000);
  let hooks: RecordingHooks;
  let run: SandboxRun;

  before(async () => {
    hooks = recordingHooks((id) => scriptBrief(id, []));
    run = await sandboxRun(hooks);
  });
  after(async () => run?.cleanup());

  it('writes, runs, is denied `rm -rf /` and continues, commits, and finishes with exit 0', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script1');
    const plan = [
      { phase: 'build' },
      { write: 'hello.txt', content: 'hello from the sandbox\n', task: 't1', agent: 'development' },
      { run: 'cat hello.txt | tr a-z A-Z > upper.txt && id -u' },
      { run: 'rm -rf /' },
      { read: 'upper.txt' },
      { commit: 'add greeting' },
    ];
    hooks.briefs.set('sess-script', scriptBrief('sess-script', plan, { options: { heartbeat_ms: '500' } }));
    const { info } = await run.start('sess-script', ws);
    const done = await run.waitExit(info.id);
    const events = hooks.events.filter((e) => e.sessionId === 'sess-script').map((e) => e.event);
    assert.equal(done.exitCode, 0, JSON.stringify(events.filter((e) => e.type === 'error')));

    // Every action went through Decide, in plan order, with sandbox paths.
    assert.deepEqual(
      hooks.decisions.map((d) => [d.req.action, d.decision]),
      [
        [{ kind: 'phase', name: 'build' }, 'allow'],
        [{ kind: 'write', path: '/workspace/hello.txt' }, 'allow'],
        [{ kind: 'shell', command: 'cat hello.txt | tr a-z A-Z > upper.txt && id -u' }, 'allow'],
        [{ kind: 'shell', command: 'rm -rf /' }, 'deny'],
        [{ kind: 'read', path: '/workspace/upper.txt' }, 'allow'],
        [{ kind: 'commit', message: 'add greeting' }, 'allow'],
      ],
    );
    // The events tell the same story, the denial carries the reason, and the run went on.
    const story = events.filter((e) => ['tool_call', 'tool_result', 'denied', 'phase', 'task', 'finished'].includes(e.type)).map((e) => e.type + (e.taskStatus ? `:${e.taskStatus}` : ''));
    assert.deepEqual(story, [
      'tool_call', 'phase',
      'task:in_progress', 'tool_call', 'tool_result', 'task:completed',
      'tool_call', 'tool_result',
      'tool_call', 'denied',
      'tool_call', 'tool_result',
      'tool_call', 'tool_result',
      'finished',
    ]);
    const denied = events.find((e) => e.type === 'denied')!;
    assert.match(denied.message, /destructive command: rm -rf \//);
    assert.deepEqual(events.filter((e) => e.type === 'iteration').map((e) => e.iteration), [1, 2, 3, 4, 5, 6]);
    const shell = events.filter((e) => e.type === 'tool_result')[1]!;
    assert.match(shell.message, /^exit 0\n64000/, 'the command ran inside the sandbox as the sandbox user');
    assert.match(events.find((e) => e.type === 'tool_result' && e.message.startsWith('HELLO'))?.message ?? '', /HELLO FROM THE SANDBOX/);
    const finished = events.at(-1)!;
    assert.equal(finished.type, 'finished');
    assert.deepEqual(JSON.parse(finished.dataJson), { steps: 6, denied: 1, failed: 0 });
    assert.equal(finished.message, 'ran 6 steps (1 denied, 0 failed)');
    assert.ok(hooks.heartbeats.some((h) => h.sessionId === 'sess-script'), 'the runner heartbeats');

    // The workspace holds the files and the session branch holds the commit.
    assert.equal(readFileSync(join(ws, 'upper.txt'), 'utf8'), 'HELLO FROM THE SANDBOX\n');
    const log = execFileSync('git', ['-C', ws, '-c', `safe.directory=${ws}`, 'log', '--format=%s|%an', 'loki/session'], { encoding: 'utf8' });
    assert.equal(log.trim(), 'add greeting|Loki Agent');
    const files = execFileSync('git', ['-C', ws, '-c', `safe.directory=${ws}`, 'ls-tree', '--name-only', 'HEAD'], { encoding: 'utf8' });
    assert.deepEqual(files.trim().split('\n'), ['hello.txt', 'upper.txt']);
  });

  it('commits what the agent left uncommitted through the policy gate, or says it stays behind when that commit is denied', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script7');
    hooks.briefs.set('sess-left', scriptBrief('sess-left', [{ write: 'notes.txt', content: 'forgot to commit\n' }, { run: 'mkdir -p src && echo x > src/new.txt' }]));
    const a = await run.start('sess-left', ws);
    assert.equal((await run.waitExit(a.info.id)).exitCode, 0);
    const commit = hooks.decisions.filter((d) => d.sessionId === 'sess-left' && d.req.action.kind === 'commit');
    assert.deepEqual(commit.map((d) => [d.req.action, d.decision]), [[{ kind: 'commit', message: LEFTOVER_COMMIT_MESSAGE }, 'allow']], 'one commit, asked like any other');
    const git = (...args: string[]) => execFileSync('git', ['-C', ws, '-c', `safe.directory=${ws}`, ...args], { encoding: 'utf8' }).trim();
    assert.equal(git('log', '--format=%s|%an', 'loki/session'), `${LEFTOVER_COMMIT_MESSAGE}|Loki Agent`);
    assert.deepEqual(git('ls-tree', '-r', '--name-only', 'HEAD').split('\n'), ['notes.txt', 'src/new.txt']);
    const events = hooks.events.filter((e) => e.sessionId === 'sess-left').map((e) => e.event);
    assert.ok(events.some((e) => e.type === 'message' && /left 2 changed files \(notes\.txt, src\/new\.txt\) uncommitted; committing them/.test(e.message)));
    assert.equal(events.at(-1)!.type, 'finished', 'the commit comes before the end');

    hooks.denyCommits.add('sess-left-denied');
    const ws2 = gitWorkspace(run.daemon.home, 'script8');
    hooks.briefs.set('sess-left-denied', scriptBrief('sess-left-denied', [{ write: 'notes.txt', content: 'x' }]));
    const b = await run.start('sess-left-denied', ws2);
    assert.equal((await run.waitExit(b.info.id)).exitCode, 0);
    const said = hooks.events.filter((e) => e.sessionId === 'sess-left-denied' && e.event.type === 'message').map((e) => e.event.message);
    assert.ok(said.some((m) => /1 changed file \(notes\.txt\) stays uncommitted in the workspace and is not on the session branch: the commit was denied/.test(m)), said.join(' | '));
    assert.equal(execFileSync('git', ['-C', ws2, '-c', `safe.directory=${ws2}`, 'rev-list', '--all', '--count'], { encoding: 'utf8' }).trim(), '0', 'nothing was committed');
  });

  it('refuses a write that escapes the workspace through a symlink and reports a bad plan as an error with exit 1', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script2');
    hooks.briefs.set('sess-escape', scriptBrief('sess-escape', [{ run: 'ln -s /tmp out' }, { write: 'out/x', content: 'x' }]));
    const a = await run.start('sess-escape', ws);
    assert.equal((await run.waitExit(a.info.id)).exitCode, 0);
    const results = hooks.events.filter((e) => e.sessionId === 'sess-escape' && e.event.type === 'tool_result').map((e) => e.event);
    assert.match(results[1]!.message, /outside the workspace/);
    assert.equal(existsSync(join(ws, 'out', 'x')), false);

    hooks.briefs.set('sess-bad', scriptBrief('sess-bad', [{ frobnicate: 1 }]));
    const b = await run.start('sess-bad', gitWorkspace(run.daemon.home, 'script3'));
    assert.equal((await run.waitExit(b.info.id)).exitCode, 1);
    const last = hooks.events.filter((e) => e.sessionId === 'sess-bad').at(-1)!.event;
    assert.equal(last.type, 'error');
    assert.match(last.message, /step 1 must have exactly one of run, write/);
  });

  it('blocks on a decision that waits for a human, then continues once it is granted', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script4');
    hooks.briefs.set('sess-ask', scriptBrief('sess-ask', [{ run: 'ask deploy; echo approved > ok.txt' }, { run: 'echo after > after.txt' }]));
    const { info } = await run.start('sess-ask', ws);
    const end = Date.now() + 30_000;
    while (!hooks.held.some((h) => h.req.action.kind === 'shell' && h.req.action.command.startsWith('ask deploy'))) {
      if (Date.now() > end) throw new Error('the runner never asked');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(existsSync(join(ws, 'after.txt')), false, 'nothing ran while the decision was pending');
    assert.equal((await run.daemon.manager.get(ADMIN, info.id)).state, 'running');
    const held = hooks.held.find((h) => h.req.action.kind === 'shell' && h.req.action.command.startsWith('ask deploy'))!;
    held.release({ decision: 'allow', reason: 'approved by alice', rule: 'approval', approvalId: 'apr-1' });
    assert.equal((await run.waitExit(info.id)).exitCode, 0);
    assert.equal(readFileSync(join(ws, 'after.txt'), 'utf8'), 'after\n');
  });

  it('finishes early and cleanly when the daemon asks it to stop', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script5');
    hooks.briefs.set('sess-stop', scriptBrief('sess-stop', [{ sleep: 60_000 }, { run: 'echo never > never.txt' }], { options: { heartbeat_ms: '200' } }));
    const { info } = await run.start('sess-stop', ws);
    const end = Date.now() + 30_000;
    while (!hooks.events.some((e) => e.sessionId === 'sess-stop' && e.event.type === 'iteration')) {
      if (Date.now() > end) throw new Error('the runner never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    hooks.stop.add('sess-stop');
    assert.equal((await run.waitExit(info.id, 20_000)).exitCode, 0);
    assert.ok(Date.now() - t0 < 10_000, 'the sleep was cut short');
    const last = hooks.events.filter((e) => e.sessionId === 'sess-stop').at(-1)!.event;
    assert.equal(last.type, 'finished');
    assert.match(last.message, /stopped on request/);
    assert.equal(existsSync(join(ws, 'never.txt')), false);
  });

  it('keeps running across a daemon restart: the re-opened channel gets the rest of the run', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script6');
    hooks.briefs.set('sess-restart', scriptBrief('sess-restart', [{ run: 'echo 1 > one.txt' }, { sleep: 2500 }, { run: 'echo 2 > two.txt' }, { commit: 'across a restart' }]));
    const { info } = await run.start('sess-restart', ws);
    const end = Date.now() + 30_000;
    while (!hooks.events.some((e) => e.sessionId === 'sess-restart' && e.event.type === 'tool_result')) {
      if (Date.now() > end) throw new Error('the first step never finished');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The daemon side goes away (as on SIGKILL) and a new one re-opens the same path.
    await run.channels.closeAll();
    await new Promise((r) => setTimeout(r, 300));
    const again = createAgentChannels({ runDir: run.daemon.paths.runDir, hooks, log: quietLogger(), carrier: run.daemon.manager, sandboxUser: run.daemon.manager.sandboxUser });
    try {
      await again.open('sess-restart');
      assert.equal((await run.waitExit(info.id)).exitCode, 0);
    } finally {
      await again.closeAll();
    }
    const decided = hooks.decisions.filter((d) => d.sessionId === 'sess-restart').map((d) => d.req.action.kind);
    assert.deepEqual(decided, ['shell', 'shell', 'commit']);
    assert.equal(hooks.events.filter((e) => e.sessionId === 'sess-restart').at(-1)!.event.type, 'finished');
    assert.equal(readFileSync(join(ws, 'two.txt'), 'utf8'), '2\n');
  });

  // lokid killed while the runner said Hello (a crash, or systemd restarting it): the runner used to exit 2
  // at once, and the restarted lokid found its container gone and failed the session.
  it('says Hello again when the first one fails UNAVAILABLE (lokid restarting), and runs the session', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script8');
    hooks.briefs.set('sess-hello', scriptBrief('sess-hello', [{ run: 'echo hi > hi.txt' }]));
    hooks.failHellos.set('sess-hello', 2);
    const { info } = await run.start('sess-hello', ws);
    assert.equal((await run.waitExit(info.id)).exitCode, 0);
    assert.equal(hooks.hellos.filter((h) => h.sessionId === 'sess-hello').length, 3, 'two refused, the third answered');
    assert.equal(readFileSync(join(ws, 'hi.txt'), 'utf8'), 'hi\n');
  });

  it('numbers its Decides from 1 and sends one that failed UNAVAILABLE (lokid restarting) again with the same number', async () => {
    const ws = gitWorkspace(run.daemon.home, 'script7');
    const ask = 'ask deploy; echo ok > ok.txt';
    hooks.briefs.set('sess-seq', scriptBrief('sess-seq', [{ run: 'echo 1 > one.txt' }, { run: ask }, { run: 'echo 3 > three.txt' }]));
    const { info } = await run.start('sess-seq', ws);
    const held = async (n: number) => {
      const end = Date.now() + 30_000;
      for (;;) {
        const found = hooks.held.filter((h) => h.req.action.kind === 'shell' && h.req.action.command === ask);
        if (found.length >= n) return found;
        if (Date.now() > end) throw new Error(`the runner asked ${found.length} times, not ${n}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // The call fails as when lokid stops while the Decide waits for a human (UNAVAILABLE): the runner asks again.
    (await held(1))[0]!.fail(new LokiError('unavailable', 'lokid is restarting'));
    const [first, again] = await held(2);
    again!.release({ decision: 'allow', reason: 'approved by alice', rule: 'approval:apr-1', approvalId: 'apr-1' });
    assert.equal((await run.waitExit(info.id)).exitCode, 0);
    assert.deepEqual([first!.req.decideSeq, again!.req.decideSeq], [2, 2], 'the same Decide, the same number');
    assert.deepEqual(hooks.decisions.filter((d) => d.sessionId === 'sess-seq').map((d) => d.req.decideSeq), [1, 2, 3, 4], 'three steps and the commit of what they left');
    assert.equal(readFileSync(join(ws, 'three.txt'), 'utf8'), '3\n');
  });
});
