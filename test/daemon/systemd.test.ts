import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { join } from 'node:path';
import { installRoot } from '../../daemon/src/config.js';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { shortTempDir } from '../helpers/entry.js';

interface DgramSocket {
  bind(path: string): void;
  on(event: 'message', f: (msg: Buffer) => void): void;
  on(event: 'error', f: (err: Error) => void): void;
  close(): void;
}

/** A fake systemd: a unix datagram socket that records every sd_notify message. */
function fakeNotifySocket(path: string, onMessage: (m: string) => void): DgramSocket {
  const unixDgram = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram', cb?: (msg: Buffer) => void): DgramSocket };
  const s = unixDgram.createSocket('unix_dgram', (msg) => onMessage(msg.toString()));
  s.on('error', () => undefined);
  s.bind(path);
  return s;
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function waitFor(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('lokid under systemd (Type=notify, fake NOTIFY_SOCKET)', function () {
  this.timeout(60_000);
  let dir: string;
  let notify: DgramSocket;
  let daemon: DaemonProcess | undefined;
  const messages: { text: string; adminAccepting: Promise<boolean> }[] = [];
  const texts = () => messages.map((m) => m.text);

  before(async () => {
    dir = shortTempDir('lk-sd');
    const home = join(dir, 'home');
    const adminSocket = join(home, 'run', 'admin.sock');
    // The readiness check happens the moment READY=1 arrives, not later.
    notify = fakeNotifySocket(join(dir, 'notify.sock'), (text) => messages.push({ text, adminAccepting: text.includes('READY=1') ? accepts(adminSocket) : Promise.resolve(false) }));
    daemon = await spawnDaemon(home, { NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '400000' });
    await waitFor(() => texts().some((t) => t.startsWith('READY=1')), 'READY=1');
  });

  after(async () => {
    await daemon?.stop('SIGKILL');
    notify?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends READY=1 (with MAINPID) only once the admin socket accepts connections', async () => {
    const first = messages.findIndex((m) => m.text.startsWith('READY=1'));
    assert.equal(first, 0, `READY=1 is the first message: ${JSON.stringify(texts())}`);
    assert.match(messages[0]!.text, new RegExp(`^READY=1\nMAINPID=${daemon!.child.pid}\n`));
    assert.equal(await messages[0]!.adminAccepting, true, 'admin.sock accepted a connection when READY=1 arrived');
  });

  it('pings WATCHDOG=1 about twice per WATCHDOG_USEC', async () => {
    const before = texts().filter((t) => t === 'WATCHDOG=1').length;
    await new Promise((r) => setTimeout(r, 1000));
    const pings = texts().filter((t) => t === 'WATCHDOG=1').length - before;
    // Nominally 5 (every 200 ms); a loaded CI box delays timers, so allow a margin
    // but still fail when pings stop or run far faster than asked.
    assert.ok(pings >= 2 && pings <= 10, `expected ~5 pings in 1 s at 400 ms watchdog, got ${pings}`);
  });

  it('wraps a SIGHUP config reload in RELOADING=1 (with MONOTONIC_USEC) … READY=1', async () => {
    const from = messages.length;
    daemon!.child.kill('SIGHUP');
    await waitFor(() => texts().slice(from).filter((t) => t.startsWith('READY=1')).length > 0, 'READY=1 after the reload');
    const seq = texts().slice(from).filter((t) => t !== 'WATCHDOG=1');
    assert.match(seq[0]!, /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    assert.match(seq[1]!, /^READY=1/);
    assert.match(daemon!.output(), /config reloaded/);
  });

  it('sends STOPPING=1 on SIGTERM and exits 0', async () => {
    const from = messages.length;
    const code = await daemon!.stop('SIGTERM');
    daemon = undefined;
    assert.equal(code, 0);
    await waitFor(() => texts().slice(from).includes('STOPPING=1'), 'STOPPING=1');
  });
});

describe('deploy/systemd units', () => {
  const dir = join(installRoot(), 'deploy', 'systemd');
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  /** `Key=value` lines of a unit (comments dropped), as [key, value] pairs in order. */
  const directives = (text: string) =>
    text.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
  const get = (text: string, key: string) => directives(text).filter(([k]) => k === key).map(([, v]) => v);

  it('lokid.service is Type=notify with reload, watchdog, state and runtime directories', () => {
    const u = read('lokid.service');
    const want: Record<string, string> = {
      Type: 'notify',
      NotifyAccess: 'main',
      ExecStart: '/usr/local/bin/lokid --config /etc/loki/lokid.yaml',
      ExecReload: '/bin/kill -HUP $MAINPID',
      WatchdogSec: '30',
      StateDirectory: 'loki',
      RuntimeDirectory: 'loki',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'read-only',
      PrivateTmp: 'yes',
      RestrictSUIDSGID: 'yes',
      SystemCallArchitectures: 'native',
      CapabilityBoundingSet: 'CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_SETUID CAP_SETGID',
    };
    for (const [k, v] of Object.entries(want)) assert.deepEqual(get(u, k), [v], `${k}=${v}`);
    assert.ok(get(u, 'Environment').includes('LOKI_HOME=/var/lib/loki'));
    assert.ok(get(u, 'Environment').includes('LOKI_RUN_DIR=/run/loki'));
    for (const k of ['ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectControlGroups', 'LockPersonality', 'RestrictRealtime']) {
      assert.deepEqual(get(u, k), ['yes'], `${k}=yes`);
    }
    // Hardening that would cut lokid off from Docker must not be there.
    assert.deepEqual(get(u, 'PrivateNetwork'), []);
    assert.doesNotMatch(get(u, 'RestrictAddressFamilies').join(' '), /~|none/);
    assert.ok(get(u, 'RestrictAddressFamilies').join(' ').includes('AF_UNIX'));
  });

  it('loki-gateway.service runs unprivileged, in the socket group, with no capabilities', () => {
    const u = read('loki-gateway.service');
    assert.deepEqual(get(u, 'User'), ['loki-gateway']);
    assert.deepEqual(get(u, 'SupplementaryGroups'), ['loki-gateway']);
    assert.deepEqual(get(u, 'CapabilityBoundingSet'), ['']);
    assert.deepEqual(get(u, 'NoNewPrivileges'), ['yes']);
    assert.deepEqual(get(u, 'ProtectHome'), ['yes']);
    assert.ok(get(u, 'Environment').includes('LOKI_DAEMON_SOCKET=/run/loki/gateway.sock'));
    assert.ok(!directives(u).some(([, v]) => /docker/i.test(v)), 'the gateway has nothing to do with Docker');
  });

  it('both units pass `systemd-analyze verify` without a single warning', async function () {
    this.timeout(30_000);
    const ok = await new Promise<boolean>((r) => execFile('systemd-analyze', ['--version'], (err) => r(!err)));
    if (!ok) this.skip();
    const tmp = shortTempDir('lk-unit');
    try {
      // verify insists that ExecStart binaries exist; point them at stand-ins.
      for (const [unit, bin] of [['lokid.service', 'lokid'], ['loki-gateway.service', 'loki-gateway']] as const) {
        writeFileSync(join(tmp, bin), '#!/bin/sh\n');
        chmodSync(join(tmp, bin), 0o755);
        writeFileSync(join(tmp, unit), read(unit).replaceAll(`/usr/local/bin/${bin}`, join(tmp, bin)));
      }
      const out = await new Promise<string>((resolve) =>
        execFile('systemd-analyze', ['verify', join(tmp, 'lokid.service'), join(tmp, 'loki-gateway.service')], { cwd: tmp }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`)),
      );
      // verify exits 0 even for unknown keys and bad values; any line about our units is a defect.
      const ours = out.split('\n').filter((l) => l.includes(tmp));
      assert.deepEqual(ours, []);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
