// Every tracked action shows up in the audit log after the CLI/API call that
// caused it, with the right user and result — including denied and failed ones.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryArgv, shortTempDir } from '../helpers/entry.js';
import { spawnDaemon, SANDBOX_IMAGE, type DaemonProcess } from '../helpers/daemon.js';
import { buildTestGateway, bearer, type TestGateway } from '../gateway/helpers.js';

interface Entry {
  action: string;
  user: string;
  resource: string;
  result: string;
  reason?: string;
  ip?: string;
}

function cli(home: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [...entryArgv('cli'), '--home', home, ...args], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('Audit trail of tracked actions (real lokid, CLI and gateway)', function () {
  this.timeout(180_000);
  let home: string;
  let d: DaemonProcess;
  let gw: TestGateway;
  const uid = process.getuid?.() ?? 0;

  before(async () => {
    home = shortTempDir('lkau');
    d = await spawnDaemon(home);
    gw = await buildTestGateway({ socket: d.paths.gatewaySocket, raw: { rate_limit: { per_minute: 3, burst: 10 } } });
  });

  after(async () => {
    await gw?.close();
    await d?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  async function entries(): Promise<Entry[]> {
    const r = await cli(home, ['enterprise', 'audit', 'tail', '--json', '-n', '1000']);
    assert.equal(r.code, 0, r.err);
    return r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
  }

  it('says there is nothing to show rather than printing nothing', async () => {
    const r = await cli(home, ['enterprise', 'audit', 'tail', '--event', 'no.such']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'no no.such entries in the audit log\n');
    const j = await cli(home, ['enterprise', 'audit', 'tail', '--event', 'no.such', '--json']);
    assert.equal(j.out, '', 'JSON lines: no line is the answer');
  });

  it('records sandbox, token, project, auth, rate-limit and config actions with user and outcome', async () => {
    // sandbox.start / sandbox.shell / sandbox.stop (success) and a refused relaxation (denied)
    assert.equal((await cli(home, ['sandbox', 'start', '--name', 'aud'])).code, 0);
    assert.equal((await cli(home, ['sandbox', 'exec', 'aud', '--', 'true'])).code, 0);
    assert.equal((await cli(home, ['sandbox', 'stop', 'aud', '-t', '1'])).code, 0);
    const denied = await cli(home, ['sandbox', 'start', '--name', 'netty', '--allow-network']);
    assert.equal(denied.code, 4, denied.err);
    // token.generate / token.revoke
    assert.equal((await cli(home, ['enterprise', 'token', 'generate', 'ci-bot', '--role', 'viewer'])).code, 0);
    assert.equal((await cli(home, ['enterprise', 'token', 'revoke', 'ci-bot'])).code, 0);
    // project.register
    const repo = join(home, 'repo');
    mkdirSync(repo);
    execFileSync('git', ['init', '-q', '-b', 'main', repo]);
    writeFileSync(join(repo, 'a.txt'), 'a\n');
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qam', 'init', '--allow-empty']);
    execFileSync('git', ['-C', repo, 'add', '.']);
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'a']);
    const reg = await cli(home, ['projects', 'register', repo, '--name', 'demo']);
    assert.equal(reg.code, 0, reg.err);
    // auth.fail and rate_limit.reject through the gateway
    const bad = await gw.app.inject({ method: 'GET', url: '/api/status', headers: bearer('loki_' + 'x'.repeat(49)) });
    assert.equal(bad.statusCode, 401);
    const gen = await cli(home, ['enterprise', 'token', 'generate', 'reader', '--role', 'viewer']);
    const secret = /Token:\s+(loki_\S+)/.exec(gen.out)![1]!;
    let limited = 0;
    for (let i = 0; i < 6; i++) {
      const r = await gw.app.inject({ method: 'GET', url: '/api/status', headers: bearer(secret) });
      if (r.statusCode === 429) limited++;
    }
    assert.ok(limited > 0, 'the rate limit rejected something');
    // config.change on SIGHUP
    d.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 1500));
    // gateway events are forwarded asynchronously
    let all: Entry[] = [];
    for (let i = 0; i < 30; i++) {
      all = await entries();
      if (all.some((e) => e.action === 'rate_limit.reject') && all.some((e) => e.action === 'auth.fail') && all.some((e) => e.action === 'config.change')) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    const find = (action: string, result: string) => all.find((e) => e.action === action && e.result === result);
    const local = `local:${uid}`;
    for (const [action, result] of [['sandbox.start', 'success'], ['sandbox.shell', 'success'], ['sandbox.stop', 'success'], ['token.generate', 'success'], ['token.revoke', 'success'], ['project.register', 'success']] as const) {
      const e = find(action, result);
      assert.ok(e, `${action} ${result} is in the audit log: ${JSON.stringify(all.map((x) => `${x.action}/${x.result}`))}`);
      assert.equal(e.user, local, `${action} is attributed to ${local}`);
    }
    const refused = find('sandbox.start', 'denied');
    assert.ok(refused, 'the refused relaxation is audited as denied');
    assert.match(refused.reason ?? '', /does not allow relaxing network/);
    assert.ok(find('auth.fail', 'denied'), 'auth.fail is audited');
    const rl = find('rate_limit.reject', 'denied');
    assert.ok(rl, 'rate_limit.reject is audited');
    assert.equal(rl.user, 'token:reader');
    const cfg = find('config.change', 'success');
    assert.ok(cfg, 'the SIGHUP reload is audited');
    assert.equal(cfg.user, 'system');
    // the chain verifies
    const v = await cli(home, ['enterprise', 'audit', 'verify']);
    assert.equal(v.code, 0, v.out + v.err);
    assert.match(v.out, /^OK/m);
  });
});
void SANDBOX_IMAGE;
