// The shipped systemd units, checked by systemd's own tools and then run the way
// systemd would run them, without systemd (systemd-real.test.ts boots a real one
// and runs the units with their hardening; this is the quick check): each unit's exact
// ExecStart and Environment=, its user/groups (setpriv), its Runtime/State
// directories with their modes, and a NOTIFY_SOCKET. The only change is a temp
// root prefixed to the unit's absolute paths (/run/loki, /var/lib/loki, /etc/loki,
// /usr/local/bin) and a free port instead of 57374.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readlinkSync, rmdirSync, rmSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CHILD_MALLOC_TUNABLE, CHILD_NODE_FLAGS } from '../../cli/src/up/supervisor.js';
import { ROOT, entryArgv, shortTempDir } from '../helpers/entry.js';
import { DEPLOY, ensureLokiAccounts, freePort, notifySocket, readUnit, requireTool, startProcess, until } from './helpers.js';

const UNITS = join(DEPLOY, 'systemd');
const BINS: Record<string, 'daemon' | 'gateway'> = { lokid: 'daemon', 'loki-gateway': 'gateway' };

function exposure(unit: string): number {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(UNITS, unit)], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: ([\d.]+)/.exec(r.stdout + r.stderr);
  assert.ok(m, `systemd-analyze security printed no exposure level:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe('deploy/systemd units', function () {
  this.timeout(180_000);
  const installed: string[] = [];

  before(() => {
    requireTool('systemd-analyze', 'systemd');
    requireTool('setpriv', 'util-linux');
    // `systemd-analyze verify` checks that ExecStart exists: install the binaries as
    // DEPLOYMENT.md does (symlinks in /usr/local/bin) unless they are already there.
    const targets: Array<[string, string]> = [
      ...Object.entries(BINS).map(([bin, entry]): [string, string] => [`/usr/local/bin/${bin}`, entryArgv(entry).at(-1)!]),
      ['/usr/local/lib/loki/loki-health-textfile.sh', join(DEPLOY, 'prometheus', 'loki-health-textfile.sh')],
    ];
    for (const [link, target] of targets) {
      if (existsSync(link) || isLink(link)) continue;
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(target, link);
      installed.push(link);
    }
  });
  after(() => {
    for (const link of installed) if (isLink(link) && (readlinkSync(link).startsWith(ROOT) || readlinkSync(link).startsWith(DEPLOY))) unlinkSync(link);
    if (installed.includes('/usr/local/lib/loki/loki-health-textfile.sh')) rmdirSync('/usr/local/lib/loki');
  });

  it('passes systemd-analyze verify with no warning', () => {
    const units = ['lokid.service', 'loki-gateway.service', 'loki-health.service', 'loki-health.timer'].map((u) => join(UNITS, u));
    const r = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', `systemd-analyze verify warned:\n${r.stderr}`);
  });

  it('gives lokid and the gateway the memory settings `loki up` gives them (young generation, one malloc arena)', () => {
    for (const [unit, child] of [['lokid.service', 'daemon'], ['loki-gateway.service', 'gateway']] as const) {
      const env = readUnit(join(UNITS, unit)).environment();
      assert.equal(env.NODE_OPTIONS, CHILD_NODE_FLAGS[child].join(' '), `${unit} NODE_OPTIONS`);
      assert.equal(env.GLIBC_TUNABLES, CHILD_MALLOC_TUNABLE, `${unit} GLIBC_TUNABLES`);
    }
  });

  it('keeps the gateway at exposure ≤ 2.0 and lokid ≤ 3.0 (systemd-analyze security --offline)', () => {
    const gw = exposure('loki-gateway.service');
    const d = exposure('lokid.service');
    const h = exposure('loki-health.service');
    process.stdout.write(`      exposure: loki-gateway.service ${gw}, lokid.service ${d}, loki-health.service ${h}\n`);
    assert.ok(h <= 2.0, `loki-health.service exposure ${h} > 2.0`);
    assert.ok(gw <= 2.0, `loki-gateway.service exposure ${gw} > 2.0`);
    assert.ok(d <= 3.0, `lokid.service exposure ${d} > 3.0`);
  });

  describe('run as systemd would run them', () => {
    let root: string;
    let lokid: ReturnType<typeof startProcess> | undefined;
    let gateway: ReturnType<typeof startProcess> | undefined;
    let notify: ReturnType<typeof notifySocket>;
    let map: (s: string) => string;
    let runDir: string;

    before(() => {
      ensureLokiAccounts();
      root = shortTempDir('lkdep');
      chmodSync(root, 0o755);
      map = (s) => s.replace(/(^|[\s=])(\/(?:run\/loki|var\/lib\/loki|etc\/loki|usr\/local\/bin))/g, `$1${root}$2`);
      mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
      for (const [bin, entry] of Object.entries(BINS)) symlinkSync(entryArgv(entry).at(-1)!, join(root, 'usr/local/bin', bin));
      mkdirSync(join(root, 'etc/loki'), { recursive: true });
      copyFileSync(join(UNITS, 'lokid.yaml'), join(root, 'etc/loki/lokid.yaml'));
      notify = notifySocket(join(root, 'notify.sock'));
    });
    after(async () => {
      await gateway?.stop();
      await lokid?.stop();
      notify?.close();
      rmSync(root, { recursive: true, force: true });
    });

    it('lokid: Type=notify READY=1 with its sockets in the RuntimeDirectory, owned by the admin and gateway groups', async () => {
      const u = readUnit(join(UNITS, 'lokid.service'));
      assert.equal(u.get('Service.Type'), 'notify');
      // RuntimeDirectory= / StateDirectory= with their modes, as systemd creates them.
      runDir = join(root, 'run', u.get('Service.RuntimeDirectory')!);
      mkdirSync(runDir, { recursive: true, mode: Number.parseInt(u.get('Service.RuntimeDirectoryMode')!, 8) });
      chmodSync(runDir, Number.parseInt(u.get('Service.RuntimeDirectoryMode')!, 8));
      chmodSync(join(root, 'run'), 0o755);
      const state = join(root, 'var/lib', u.get('Service.StateDirectory')!);
      mkdirSync(state, { recursive: true });
      chmodSync(state, Number.parseInt(u.get('Service.StateDirectoryMode')!, 8));
      const [cmd, ...args] = map(u.get('Service.ExecStart')!).split(/\s+/);
      const env = { PATH: process.env.PATH!, ...Object.fromEntries(Object.entries(u.environment()).map(([k, v]) => [k, map(v)])), NOTIFY_SOCKET: join(root, 'notify.sock'), WATCHDOG_USEC: String(Number.parseInt(u.get('Service.WatchdogSec')!, 10) * 1e6) };
      lokid = startProcess(cmd!, args, env);
      await notify.waitFor(/READY=1/).catch((err: Error) => {
        throw new Error(`${err.message}\nlokid output:\n${lokid!.output()}`);
      });
      const admin = statSync(join(runDir, 'admin.sock'));
      const gw = statSync(join(runDir, 'gateway.sock'));
      assert.equal(admin.mode & 0o777, 0o660);
      assert.equal(gw.mode & 0o777, 0o660);
      assert.equal(admin.gid, gidOf('loki-admin'));
      assert.equal(gw.gid, gidOf('loki-gateway'));
    });

    it('loki-gateway: as User=loki-gateway it reaches lokid through gateway.sock and answers an authenticated /api/status 200', async () => {
      const u = readUnit(join(UNITS, 'loki-gateway.service'));
      const token = /Token:\s+(\S+)/.exec(
        execFileSync(process.execPath, [...entryArgv('cli'), '--socket', join(runDir, 'admin.sock'), 'enterprise', 'token', 'generate', 'deploy-test', '--scopes', 'read'], { encoding: 'utf8' }),
      )![1]!;
      const port = await freePort();
      const env = { PATH: process.env.PATH!, ...Object.fromEntries(Object.entries(u.environment()).map(([k, v]) => [k, map(v)])), LOKI_API_PORT: String(port) };
      // User=, Group=, SupplementaryGroups=, NoNewPrivileges=, empty CapabilityBoundingSet=.
      assert.equal(u.get('Service.User'), 'loki-gateway');
      assert.equal(u.get('Service.CapabilityBoundingSet'), '');
      const cred = ['--reuid=loki-gateway', '--regid=loki-gateway', `--groups=${u.all('Service.SupplementaryGroups').join(',')}`, '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all'];
      const [cmd, ...args] = map(u.get('Service.ExecStart')!).split(/\s+/);
      gateway = startProcess('setpriv', [...cred, '--', cmd!, ...args], env);
      const base = `http://127.0.0.1:${port}`;
      const res = await until('the gateway to answer', async () => {
        if (gateway!.child.exitCode !== null) throw new Error(`loki-gateway exited ${gateway!.child.exitCode}:\n${gateway!.output()}`);
        const r = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${token}` } });
        return r.status === 200 ? r : undefined;
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert.ok(JSON.stringify(body).includes('gateway'), JSON.stringify(body));
      assert.equal((await fetch(`${base}/api/status`)).status, 401);
    });

    it('lokid: SIGHUP (ExecReload) sends RELOADING=1 then READY=1; SIGTERM sends STOPPING=1 and exits 0', async () => {
      const u = readUnit(join(UNITS, 'lokid.service'));
      assert.equal(u.get('Service.ExecReload'), '/bin/kill -HUP $MAINPID');
      const before = notify.messages.length;
      lokid!.child.kill('SIGHUP');
      await until('RELOADING=1 then READY=1', async () => {
        const after = notify.messages.slice(before);
        const i = after.findIndex((m) => m.startsWith('RELOADING=1'));
        return i >= 0 && after.slice(i + 1).some((m) => m.startsWith('READY=1'));
      });
      await gateway!.stop();
      const code = await lokid!.stop('SIGTERM');
      assert.equal(code, 0, lokid!.output());
      assert.ok(notify.messages.some((m) => m.startsWith('STOPPING=1')));
    });
  });
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function gidOf(group: string): number {
  return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
}
