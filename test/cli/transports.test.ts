// Every `loki` command over both transports, in one parameterised suite: the
// real CLI (a child process) against a real daemon (real sockets, sandboxes,
// agent-runner, git) — once through the admin socket, once through a real
// gateway over HTTP with an API token. The same assertions run for both, and
// the JSON both transports print is compared at the end.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentRunnerBundle } from '../../daemon/src/agent/runner-bundle.js';
import { makeRepo, removeDir, runnerBundleRoot, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { requireImage } from '../helpers/sandbox.js';
import { entryArgv } from '../helpers/entry.js';
import { buildTestGateway, generateToken, type TestGateway } from '../gateway/helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const PLAN = `
- write: hello.txt
  content: "hello\\n"
  task: t1
- learn: "greeting files live at the repository root"
  tags: [demo]
- phase: review
- commit: "add hello"
`;

type Transport = 'grpc' | 'http';

describe('loki CLI over both transports (real daemon, real gateway)', function () {
  this.timeout(240_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let repo: string;
  let dir: string;
  let url: string;
  let tokenFile: string;
  let planFile: string;
  const seen: Record<Transport, Record<string, unknown>> = { grpc: {}, http: {} };

  before(async function () {
    if (!runnerBundleRoot()) this.skip(); // `npm run build` makes the agent-runner bundle
    await requireImage();
    repo = makeRepo();
    dir = mkdtempSync(join(tmpdir(), 'loki-cli-'));
    const root = runnerBundleRoot()!;
    sd = await startSessionDaemon({ sessions: { runner_command: ['node', '/opt/loki/agent-runner.cjs'] }, runner: agentRunnerBundle(root) });
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, (await generateToken(sd.d.paths.adminSocket, { name: 'cli-admin', role: 'admin' })).secret + '\n');
    chmodSync(tokenFile, 0o600);
    planFile = join(dir, 'plan.yaml');
    writeFileSync(planFile, PLAN);
    gw = await buildTestGateway({ socket: sd.d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  });

  after(async function () {
    await gw?.close();
    await sd?.cleanup();
    if (repo) removeDir(repo);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function loki(t: Transport, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    const conn = t === 'grpc' ? ['--socket', sd.d.paths.adminSocket] : ['--url', url, '--token-file', tokenFile];
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [...entryArgv('cli'), ...conn, ...args],
        // A login file of the machine running the tests must not leak in.
        { env: { PATH: process.env.PATH ?? '', LOKI_CONFIG_DIR: join(dir, 'config'), ...env }, timeout: 120_000, cwd: repo },
        (err, stdout, stderr) => resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr }),
      );
    });
  }

  async function ok(t: Transport, args: string[]): Promise<string> {
    const r = await loki(t, args);
    assert.equal(r.code, 0, `loki ${args.join(' ')} (${t}) exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  const json = async <T>(t: Transport, args: string[]): Promise<T> => JSON.parse(await ok(t, [...args, '--json'])) as T;

  for (const t of ['grpc', 'http'] as const) {
    describe(`over ${t === 'grpc' ? 'the admin socket (gRPC)' : 'the gateway (HTTP)'}`, () => {
      let sessionId = '';

      it('status shows the daemon (and, remotely, the gateway with TLS and readiness)', async () => {
        const s = await json<{ version: string; uptime_seconds: number; sandbox_driver: { name: string; reachable: boolean; version: string; can_pause: boolean }; gateway: { url: string; tls: boolean; ready: boolean } | null; sessions: unknown[] }>(t, ['status']);
        assert.ok(s.version);
        // The driver-neutral status, the same over either transport.
        assert.deepEqual([s.sandbox_driver.name, s.sandbox_driver.reachable, s.sandbox_driver.can_pause], ['docker', true, true]);
        assert.match(s.sandbox_driver.version, /^\d+\./);
        if (t === 'http') assert.deepEqual([s.gateway?.url, s.gateway?.tls, s.gateway?.ready], [url, false, true]);
        else assert.equal(s.gateway, null);
        const text = await ok(t, ['status']);
        assert.match(text, /lokid .*, up (\d+s|\d+m \d+s)/);
        assert.match(text, /^Driver: +docker reachable \(\d+\.[^)]*\)$/m);
        if (t === 'http') assert.match(text, new RegExp(`Gateway: +${url} \\(NO TLS\\).*ready`));
      });

      it('projects list/show print the API envelope and the same project', async () => {
        const list = await json<{ projects: { id: string; name: string }[] }>(t, ['projects', 'list']);
        assert.deepEqual(list.projects.map((p) => p.name), ['demo']);
        const shown = await json<{ id: string }>(t, ['projects', 'show', 'demo']);
        assert.equal(shown.id, list.projects[0]!.id);
        seen[t].projects = list;
      });

      it('policy check/explain/show decide without recording anything', async () => {
        const d = await json<{ decision: string; rule: string }>(t, ['policy', 'check', 'rm -rf /']);
        assert.equal(d.decision, 'deny');
        const e = await json<{ commands: { normalized: string }[] }>(t, ['policy', 'explain', 'sudo rm -rf / && ls']);
        assert.ok(e.commands.length >= 2, JSON.stringify(e));
        const show = await json<{ default_profile: string; profiles: unknown[] }>(t, ['policy', 'show']);
        assert.ok(show.profiles.length > 0);
        seen[t].policy = { d, e, show };
      });

      it('starts a script session that waits on an approval; approve by unique prefix unblocks it', async () => {
        const s = await json<{ id: string; state: string; provider: string }>(t, ['start', '--prompt', 'write hello', '--provider', 'script', '--plan', planFile, '--autonomy', 'checkpoint', '--project', 'demo']);
        sessionId = s.id;
        assert.equal(s.provider, 'script');
        const pending = await until('a pending approval', async () => {
          const l = await json<{ approvals: { id: string; session_id: string; action: string }[] }>(t, ['approvals', 'list', '--session', s.id]);
          return l.approvals[0];
        }, 90_000);
        assert.match(pending.action, /phase review/);
        const shown = await ok(t, ['approvals', 'show', pending.id.slice(0, 10)]);
        for (const field of ['session:', 'rule:', 'reason:', 'asked:', 'expires:', 'hash:', 'action:']) assert.match(shown, new RegExp(`^  ${field}`, 'm'));
        assert.match(shown, /phase review/);
        await until('waiting_approval', async () => (await json<{ state: string }>(t, ['sessions', 'show', s.id])).state === 'waiting_approval', 60_000);
        const approved = await ok(t, ['approvals', 'approve', pending.id.slice(0, 12), '--comment', `ok over ${t}`]);
        assert.match(approved, new RegExp(`^${pending.id} approved by `));
        assert.match(approved, /^ {2}action: .*phase review/m);
        const done = await until('the session to end', async () => {
          const x = await json<{ state: string; reason: string | null }>(t, ['sessions', 'show', s.id.slice(4, 10)]);
          return ['completed', 'failed', 'stopped'].includes(x.state) ? x : undefined;
        }, 120_000);
        assert.equal(done.state, 'completed', String(done.reason));
        // Different sessions per transport, so compare shapes: the same fields either way.
        seen[t].sessionFields = Object.keys(await json<Record<string, unknown>>(t, ['sessions', 'show', s.id])).sort();
        seen[t].approvalFields = Object.keys(await json<Record<string, unknown>>(t, ['approvals', 'show', pending.id])).sort();
      });

      it('sessions list/show/logs, session diff/patch/branch and the agent trail', async () => {
        const list = await json<{ sessions: { id: string }[] }>(t, ['sessions', 'list', '--all']);
        assert.ok(list.sessions.some((s) => s.id === sessionId));
        const logs = (await ok(t, ['sessions', 'logs', sessionId, '--json'])).trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
        assert.deepEqual(logs.map((e) => e.seq), logs.map((_, i) => i + 1), 'no gap, no duplicate');
        const resumed = (await ok(t, ['sessions', 'logs', sessionId, '--after', '2', '--json'])).trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
        assert.equal(resumed[0]!.seq, 3);
        const diff = await json<{ files_changed: number; commits: { subject: string }[] }>(t, ['session', 'diff', sessionId]);
        assert.deepEqual([diff.files_changed, diff.commits.map((c) => c.subject)], [1, ['add hello']]);
        const patch = await ok(t, ['session', 'patch', sessionId]);
        assert.match(patch, /^\+hello$/m);
        const branch = await json<{ branch: string }>(t, ['session', 'branch', sessionId]);
        assert.match(branch.branch, /loki/);
        const trail = (await ok(t, ['audit', 'log', '--session', sessionId, '--json'])).trim().split('\n').map((l) => JSON.parse(l) as { action: string });
        assert.ok(trail.length > 0);
        seen[t].diff = [diff.files_changed, diff.commits.map((c) => c.subject)];
      });

      it('tasks list shows the script session task across projects; projects health/sync/discover see the project', async () => {
        const tasks = await json<{ tasks: { session_id: string; task_id: string; project_name: string; status: string }[] }>(t, ['tasks', 'list', '--project', 'demo']);
        const mine = tasks.tasks.filter((x) => x.session_id === sessionId);
        assert.deepEqual(mine.map((x) => [x.task_id, x.project_name]), [['t1', 'demo']], JSON.stringify(tasks));
        assert.match(await ok(t, ['tasks', 'list']), new RegExp(`demo +${sessionId} +t1`));
        const bad = await loki(t, ['tasks', 'list', '--status', 'done']);
        assert.equal(bad.code, 2, bad.stderr);
        const h = await json<{ status: string; checks: { name: string; status: string }[] }>(t, ['projects', 'health', 'demo']);
        assert.equal(h.checks.find((c) => c.name === 'base_branch')?.status, 'ok');
        assert.match(await ok(t, ['projects', 'health', 'demo']), /^  ok +base_branch +main$/m);
        const sync = await json<{ projects: { project_name: string; session_branches: string[] }[] }>(t, ['projects', 'sync']);
        assert.ok((sync.projects.find((p) => p.project_name === 'demo')?.session_branches.length ?? 0) >= 1, JSON.stringify(sync));
        const d = await json<{ repos: { path: string; project_name: string | null }[] }>(t, ['projects', 'discover', repo, '--depth', '0']);
        assert.deepEqual(d.repos.map((r) => r.project_name), ['demo']);
        const mem = await json<{ learnings: { text: string; project_name: string; session_id: string; match: string }[] }>(t, ['memory', 'search', 'greeting files']);
        assert.ok(mem.learnings.some((l) => l.session_id === sessionId && l.project_name === 'demo' && l.match === 'phrase'), JSON.stringify(mem));
        assert.match(await ok(t, ['memory', 'list', '--project', 'demo']), /greeting files live at the repository root/);
        seen[t].taskFields = Object.keys(mine[0] ?? {}).sort();
        seen[t].learningFields = Object.keys(mem.learnings[0] ?? {}).sort();
      });

      it('sessions prune --dry-run lists the ended session; rm removes its workspace; show and prune then agree', async () => {
        const dry = await json<{ removed: string[]; dry_run: boolean }>(t, ['sessions', 'prune', '--dry-run']);
        assert.ok(dry.removed.includes(sessionId), JSON.stringify(dry));
        assert.equal(dry.dry_run, true);
        assert.equal((await json<{ workspace_removed: boolean }>(t, ['sessions', 'show', sessionId])).workspace_removed, false, 'a dry run removes nothing');
        const rm = await json<{ session: { id: string; workspace_removed: boolean }; freed_bytes: number }>(t, ['sessions', 'rm', sessionId.slice(0, 10)]);
        assert.deepEqual([rm.session.id, rm.session.workspace_removed], [sessionId, true]);
        assert.ok(rm.freed_bytes >= 0);
        assert.match(await ok(t, ['sessions', 'show', sessionId]), /workspace removed/);
        assert.ok(!(await json<{ removed: string[] }>(t, ['sessions', 'prune', '--dry-run'])).removed.includes(sessionId));
        const bad = await loki(t, ['sessions', 'prune', '--older-than', 'soon']);
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, /expected a duration such as 90s/);
        seen[t].rmFields = Object.keys(rm).sort();
      });

      it('enterprise token generate/list/revoke, audit summary and verify', async () => {
        const g = await json<{ name: string; secret: string }>(t, ['enterprise', 'token', 'generate', `ci-${t}`, '--role', 'viewer']);
        assert.match(g.secret, /^loki_/);
        const l = await json<{ tokens: { name: string; status: string }[] }>(t, ['enterprise', 'token', 'list']);
        assert.ok(l.tokens.some((x) => x.name === `ci-${t}` && x.status === 'active'));
        assert.match(await ok(t, ['enterprise', 'token', 'revoke', `ci-${t}`]), /Token revoked: ci-/);
        const s = await json<{ total: number; by_action: Record<string, number> }>(t, ['enterprise', 'audit', 'summary', '--since', '1h']);
        assert.ok(s.total > 0 && (s.by_action['token.generate'] ?? 0) > 0, JSON.stringify(s));
        const v = await json<{ ok: boolean; entries: number }>(t, ['enterprise', 'audit', 'verify']);
        assert.ok(v.ok && v.entries > 0, JSON.stringify(v));
      });

      it('sandbox start/list/status/exec (no `--` needed)/logs/stop', async () => {
        // Options before the command: everything after it belongs to the command.
        const s = JSON.parse(await ok(t, ['sandbox', 'start', '--json', '--name', `box-${t}`, '--memory', '256m', 'sh', '-c', 'echo one; echo two; exec sleep 300'])) as { id: string; hardening: { memory_bytes: number } };
        assert.equal(s.hardening.memory_bytes, 256 * 1024 * 1024);
        seen[t].sandboxFields = Object.keys(s).sort();
        const l = await json<{ sandboxes: { id: string }[] }>(t, ['sandbox', 'list']);
        assert.ok(l.sandboxes.some((x) => x.id === s.id));
        assert.match(await ok(t, ['sandbox', 'status', `box-${t}`]), /memory 256 MiB/);
        const r = await loki(t, ['sandbox', 'exec', s.id.slice(0, 8), 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        assert.deepEqual([r.code, r.stdout, r.stderr], [3, 'out\n', 'err\n']);
        await until('the log lines', async () => (await ok(t, ['sandbox', 'logs', s.id])) === 'one\ntwo\n', 20_000);
        assert.match(await ok(t, ['sandbox', 'stop', s.id, '--timeout', '1']), /stopped and removed/);
      });

      it('sandbox shell in a real terminal (tmux): size, resize and exit code', async function () {
        if (!existsSync('/usr/bin/tmux')) this.skip();
        const s = JSON.parse(await ok(t, ['sandbox', 'start', '--json', '--name', `tty-${t}`])) as { id: string };
        const tdir = mkdtempSync(join('/tmp', 'lk-tmux-'));
        const tmux = ['-S', join(tdir, 'tmux.sock')];
        const codeFile = join(tdir, 'code');
        const conn = t === 'grpc' ? ['--socket', sd.d.paths.adminSocket] : ['--url', url, '--token-file', tokenFile];
        const cmd = [process.execPath, ...entryArgv('cli'), ...conn, 'sandbox', 'shell', s.id].map((a) => `'${a}'`).join(' ');
        const pane = () => execFileSync('tmux', [...tmux, 'capture-pane', '-p', '-t', 'sh'], { encoding: 'utf8' });
        try {
          execFileSync('tmux', [...tmux, 'new-session', '-d', '-s', 'sh', '-x', '120', '-y', '40', `LOKI_CONFIG_DIR=${join(dir, 'config')} ${cmd}; echo $? > ${codeFile}; sleep 30`], { env: { ...process.env, TERM: 'xterm-256color' } });
          await until('the shell prompt', () => /[$#] ?$/m.test(pane()), 30_000).catch((err: Error) => {
            throw new Error(`${err.message}; the pane shows:\n${pane()}`);
          });
          execFileSync('tmux', [...tmux, 'send-keys', '-t', 'sh', 'echo $((6*7)); stty size', 'Enter']);
          await until(`"40 120" in the pane`, () => /^40 120$/m.test(pane()), 20_000);
          assert.match(pane(), /^42$/m);
          execFileSync('tmux', [...tmux, 'resize-window', '-t', 'sh', '-x', '100', '-y', '30']);
          execFileSync('tmux', [...tmux, 'send-keys', '-t', 'sh', 'clear; stty size', 'Enter']);
          await until('"30 100" after resize', () => /^30 100$/m.test(pane()), 20_000);
          execFileSync('tmux', [...tmux, 'send-keys', '-t', 'sh', 'exit 5', 'Enter']);
          const code = await until('the CLI to exit', () => (existsSync(codeFile) && readFileSync(codeFile, 'utf8').trim()) || undefined, 20_000);
          assert.equal(code, '5');
        } finally {
          try {
            execFileSync('tmux', [...tmux, 'kill-server'], { stdio: 'ignore' });
          } catch {
            // already gone
          }
          rmSync(tdir, { recursive: true, force: true });
          await loki(t, ['sandbox', 'stop', s.id, '--timeout', '1']);
        }
      });

      it('errors: exit code of the kind, one line, and JSON under --json', async () => {
        const r = await loki(t, ['sessions', 'show', 'ses-000000000000']);
        assert.equal(r.code, 5, r.stderr);
        assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
        const j = await loki(t, ['sessions', 'show', 'ses-000000000000', '--json']);
        assert.equal(j.code, 5);
        assert.equal((JSON.parse(j.stderr) as { error: { code: string } }).error.code, 'session_not_found');
        const bad = await loki(t, ['--json', 'sandbox', 'start', '--memory', 'lots']);
        assert.equal(bad.code, 2);
        assert.match((JSON.parse(bad.stderr) as { error: { message: string } }).error.message, /512m or 2g/);
      });

      it('local-only commands say so in remote mode', async function () {
        if (t === 'grpc') this.skip();
        for (const args of [['sandbox', 'build'], ['up']]) {
          const r = await loki(t, args);
          assert.equal(r.code, 6, r.stderr);
          assert.match(r.stderr, /runs on the daemon's host only/);
        }
      });
    });
  }

  describe('same output either way', () => {
    it('prints identical JSON over both transports', function () {
      if (!Object.keys(seen.http).length) this.skip();
      for (const k of ['projects', 'policy', 'diff', 'rmFields', 'sessionFields', 'approvalFields', 'sandboxFields']) {
        assert.ok(seen.grpc[k] !== undefined, k);
        assert.deepEqual(seen.http[k], seen.grpc[k], k);
      }
    });
  });
});
