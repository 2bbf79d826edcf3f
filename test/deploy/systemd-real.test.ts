// The shipped systemd units under a REAL systemd (PID 1 of a Debian 12
// container), installed with docs/DEPLOYMENT.md's own commands: lokid reaches
// READY through sd_notify and keeps feeding the watchdog, the gateway serves
// HTTPS from gateway.env as User=loki-gateway, a `script` session runs in a real
// sandbox on the host's dockerd, `systemctl reload` (SIGHUP) takes effect,
// `systemctl kill -s KILL lokid` is restarted by systemd with the store and a
// running session intact, loki-health.service writes its textfile, and
// `systemctl stop` ends both services cleanly. systemd.test.ts checks the same
// units with systemd-analyze and by emulation; this is the one that runs them.
//
// How (why a Docker container and not systemd-nspawn: dockerd is already a
// test dependency and drives the sandboxes; nspawn would need systemd-container
// and a device policy of its own):
// - Image: loki-sandbox:latest (Debian 12 from debootstrap, always built for the
//   suite) plus systemd, systemd-sysv and procps from the host's apt sources,
//   lists and package cache (10-20 s), committed as a throwaway image.
// - Container: systemd as PID 1, its own cgroup namespace, every capability
//   but CAP_SYS_RESOURCE (which this CI's dockerd does not hold, so --privileged
//   is refused), no seccomp/AppArmor profile (systemd builds the units'
//   namespaces and filters itself). The cgroup file systems are remounted
//   read-write before /sbin/init starts (Docker mounts them read-only).
// - lokid asks the HOST's dockerd to bind-mount its paths into sandboxes, so
//   /var/lib/loki and /run/loki must name the same files inside and outside:
//   inside they are bind mounts of a scratch dir and of a scratch tmpfs that is
//   the container's whole /run (so /run/loki is an ordinary directory there,
//   which systemd creates and deletes as it would on a host); outside, the
//   test points the symlinks /var/lib/loki and /run/loki at them, and refuses
//   to run if those paths exist otherwise.
// - The checkout (dist/, node_modules/) is bind-mounted on the host at
//   /opt/PREFIX-ID and bound into the container read-only at that same path (the
//   host's dockerd finds the runner bundle there), so /usr/local/bin/lokid →
//   /opt/…/dist/… as the docs say. Wherever the checkout itself is (CI clones under
//   /tmp): the units' PrivateTmp= and ProtectHome= hide /tmp, /home and /root from
//   the services, which docs/DEPLOYMENT.md tells users too. The host's node binary
//   is bound in read-only.
// Everything it makes is named or labelled with PREFIX and removed in after().
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { REPO, requireTool, until } from './helpers.js';

/** Names of everything the test makes start with this (containers, image, /tmp dirs). */
const PREFIX = process.env.LOKI_SYSTEMD_TEST_PREFIX ?? 'loki-sysd';
const LABEL = 'loki.test=systemd-real';
const HOST_LINKS = ['/var/lib/loki', '/run/loki'];
const PACKAGES = ['systemd', 'systemd-sysv', 'procps'];

function docker(args: string[], input?: string): string {
  const r = spawnSync('docker', args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`docker ${args.slice(0, 3).join(' ')} … exited ${r.status}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The commands of docs/DEPLOYMENT.md "Single host with systemd", by step number ("**1." …). */
function documentedSteps(): Map<number, string[]> {
  const md = readFileSync(join(REPO, 'docs', 'DEPLOYMENT.md'), 'utf8');
  const section = md.slice(md.indexOf('## Single host with systemd'), md.indexOf('## docker-compose with TLS'));
  const steps = new Map<number, string[]>();
  let step = 0;
  let fenced = false;
  for (const line of section.split('\n')) {
    const m = /^\*\*(\d+)\./.exec(line);
    if (m) step = Number(m[1]);
    if (/^```/.test(line)) fenced = !fenced;
    else if (fenced && step) steps.set(step, [...(steps.get(step) ?? []), line]);
  }
  return steps;
}

describe('deploy/systemd units under a real systemd (PID 1)', function () {
  this.timeout(300_000);
  const id = randomBytes(4).toString('hex');
  const scratch = `/tmp/${PREFIX}-${id}`;
  const name = `${PREFIX}-${id}`;
  const image = `${PREFIX}:${id}`;
  /** Where the checkout is seen, on the host (a bind mount) and in the container. */
  const checkout = `/opt/${PREFIX}-${id}`;
  let bound = false;
  let ca = '';
  let ip = '';
  let token = '';
  let firstSession = '';
  let built = false;
  let mounted = false;
  const linked: string[] = [];

  /** A bash script in the container (as root, cwd = the checkout), failing on the first error. */
  const sh = (script: string) => docker(['exec', '-i', '-w', checkout, name, 'bash', '-euo', 'pipefail', '-s'], script);
  const show = (unit: string, ...props: string[]) =>
    Object.fromEntries(
      sh(`systemctl show ${unit} ${props.map((p) => `-p ${p}`).join(' ')}`)
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;
  const journal = () => {
    try {
      return sh('journalctl --no-pager -n 60 -u lokid -u loki-gateway -u loki-health');
    } catch (err) {
      return (err as Error).message;
    }
  };
  const api = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        { host: ip, port: 57374, servername: 'localhost', ca, method, path, headers: { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json' } : {}) } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const sessionState = async (sid: string) => {
    const r = await api('GET', `/api/sessions/${sid}`);
    return r.status === 200 ? ((r.json.session ?? r.json) as { state?: string }).state : undefined;
  };
  /** Polls the session (once a second: the gateway allows a token 60 requests a minute) until it is `want`; ending otherwise fails at once. */
  const waitSession = async (sid: string, want: 'running' | 'completed', timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    let state: string | undefined;
    while (Date.now() < end) {
      state = await sessionState(sid).catch(() => undefined);
      if (state === want) return;
      if (state === 'failed' || state === 'stopped' || state === 'completed') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const runner = spawnSync('sh', ['-c', `c=$(docker ps -aq --filter label=loki.session=${sid}); [ -z "$c" ] && echo '(its sandbox is gone)' || docker logs "$c" 2>&1 | tail -30`], { encoding: 'utf8' }).stdout;
    const detail = JSON.stringify((await api('GET', `/api/sessions/${sid}`).catch((err: Error) => ({ json: err.message }))).json);
    const lokid = sh('journalctl --no-pager -u lokid -n 60 -o cat || true');
    throw new Error(`session ${sid} is ${state ?? 'unknown'}, not ${want}\nsession: ${detail}\nrunner:\n${runner}\nlokid:\n${lokid}`);
  };
  const startSession = async (plan: unknown[]) => {
    const r = await api('POST', '/api/control/start', { prompt: 'systemd walk', provider: 'script', project: 'demo', plan });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const sid = ((r.json.session as { id?: string } | undefined)?.id ?? r.json.id) as string;
    assert.match(sid, /^ses-/);
    return sid;
  };

  before(() => {
    requireTool('docker', 'docker.io');
    assert.equal(process.getuid?.(), 0, 'runs as root (like .ci/run): it mounts a tmpfs and links /var/lib/loki and /run/loki');
    docker(['image', 'inspect', 'loki-sandbox:latest']);
    for (const p of HOST_LINKS) {
      if (!exists(p)) continue;
      // A link left by an earlier run of this test that died before its after().
      if (lstatSync(p).isSymbolicLink() && readlinkSync(p).startsWith(`/tmp/${PREFIX}-`)) unlinkSync(p);
      else throw new Error(`${p} exists on this host; this test needs it free (it links it into the container, see the header comment)`);
    }
    // What an earlier run that died before its after() left.
    for (const old of docker(['ps', '-aq', '--filter', `label=${LABEL}`]).split('\n').filter(Boolean)) docker(['rm', '-f', old]);
    for (const old of docker(['images', '-q', '--filter', `label=${LABEL}`]).split('\n').filter(Boolean)) spawnSync('docker', ['rmi', '-f', old]);
    removeSandboxes();
    for (const old of readdirSync('/tmp').filter((f) => f.startsWith(`${PREFIX}-`))) {
      spawnSync('umount', ['-l', join('/tmp', old, 'run')]);
      rmSync(join('/tmp', old), { recursive: true, force: true });
    }
    // An earlier run's checkout mount: unmounted, and the then empty directory removed (never recursively).
    for (const old of (exists('/opt') ? readdirSync('/opt') : []).filter((f) => f.startsWith(`${PREFIX}-`))) {
      spawnSync('umount', ['-l', join('/opt', old)]);
      spawnSync('rmdir', [join('/opt', old)]);
    }

    // The image: the sandbox base plus systemd, from the host's apt sources, lists and cache.
    const build = `${name}-build`;
    const script = [
      'rm -rf /etc/apt/sources.list /etc/apt/sources.list.d && cp -a /hostapt/. /etc/apt/',
      'cp /hostlists/*_InRelease /hostlists/*_Packages* /var/lib/apt/lists/ 2>/dev/null || true',
      'ln -s /hostarch/*.deb /var/cache/apt/archives/ 2>/dev/null || true',
      'export DEBIAN_FRONTEND=noninteractive',
      `apt-get install -y --no-install-recommends ${PACKAGES.join(' ')} || { apt-get update && apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}; }`,
      'rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*',
    ].join('\n');
    const t0 = Date.now();
    try {
      docker(['run', '-i', '--name', build, '--label', LABEL, '-u', '0', '-v', '/etc/apt:/hostapt:ro', '-v', '/var/lib/apt/lists:/hostlists:ro', '-v', '/var/cache/apt/archives:/hostarch:ro', 'loki-sandbox:latest', 'sh', '-e'], script);
      docker(['commit', '-c', 'USER 0:0', '-c', 'WORKDIR /', '-c', 'ENV container=docker', '-c', 'ENV HOME=/root', '-c', `LABEL ${LABEL}`, build, image]);
      built = true;
    } finally {
      spawnSync('docker', ['rm', '-f', build]);
    }
    process.stdout.write(`      image ${image} built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    mkdirSync(checkout, { recursive: true });
    execFileSync('mount', ['--bind', REPO, checkout]);
    bound = true;
    mkdirSync(join(scratch, 'state'), { recursive: true, mode: 0o700 });
    mkdirSync(join(scratch, 'run'), { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=64m', `${PREFIX}-run`, join(scratch, 'run')]);
    mounted = true;
    symlinkSync(join(scratch, 'state'), '/var/lib/loki');
    linked.push('/var/lib/loki');
    symlinkSync(join(scratch, 'run', 'loki'), '/run/loki');
    linked.push('/run/loki');
    // Docker mounts the cgroup file systems read-only without --privileged; systemd needs them writable.
    writeFileSync(
      join(scratch, 'init.sh'),
      '#!/bin/sh\nfor d in /sys/fs/cgroup /sys/fs/cgroup/*; do\n  mountpoint -q "$d" || continue\n  mount -o remount,rw "$d" 2>/dev/null || mount -o remount,bind,rw "$d" 2>/dev/null || true\ndone\nexec /sbin/init\n',
    );
    chmodSync(join(scratch, 'init.sh'), 0o755);
    docker([
      'run', '-d', '--name', name, '--label', LABEL, '--hostname', name, '--stop-signal', 'SIGRTMIN+3',
      '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--cgroupns', 'private',
      '-v', `${join(scratch, 'run')}:/run`, '--tmpfs', '/run/lock', '-v', `${join(scratch, 'init.sh')}:/init.sh:ro`,
      '-v', '/var/run/docker.sock:/run/docker.sock', '-v', `${join(scratch, 'state')}:/var/lib/loki`,
      '-v', `${checkout}:${checkout}:ro`, '-v', `${process.execPath}:/usr/local/bin/node:ro`,
      image, '/init.sh',
    ]);
    ip = docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name]).trim();
    // Until PID 1 answers and has finished booting (`--wait` gives up at once while its socket is missing).
    const state = sh('for _ in $(seq 1 300); do s=$(systemctl is-system-running 2>&1) && break; case $s in degraded|maintenance) break ;; esac; sleep 0.1; done; echo "$s"').trim();
    assert.ok(['running', 'degraded'].includes(state), `systemd in the container is "${state}":\n${sh('systemctl --failed --no-pager || true')}\n${docker(['logs', name])}`);
  });

  after(function () {
    this.timeout(120_000);
    removeSandboxes();
    spawnSync('docker', ['rm', '-f', '-v', name]);
    if (built) spawnSync('docker', ['rmi', '-f', image]);
    for (const p of linked) if (exists(p)) unlinkSync(p);
    if (mounted) spawnSync('umount', ['-l', join(scratch, 'run')]);
    if (bound) spawnSync('umount', ['-l', checkout]);
    spawnSync('rmdir', [checkout]);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('installs with the documented commands; lokid reaches READY=1 through sd_notify and the sockets get their groups', () => {
    const steps = documentedSteps();
    // Step 1 without scripts/setup.sh (the build is bound in); step 2 without the example operator.
    const install = [...(steps.get(1) ?? []), ...(steps.get(2) ?? []), ...(steps.get(3) ?? [])].filter((l) => !/^\.\/scripts\/setup\.sh|^usermod /.test(l.trim()));
    assert.ok(install.some((l) => l.includes('install -m 0644 deploy/systemd/lokid.service')), install.join('\n'));
    sh(install.join('\n'));
    // The gateway serves TLS itself (the unit's comment and step 3: gateway.env 0600, key 0640 root:loki-gateway).
    sh(`install -m 0600 /dev/null /etc/loki/gateway.env
      install -d -m 0750 -g loki-gateway /etc/loki/tls
      deploy/compose/gen-cert.sh /etc/loki/tls localhost >/dev/null
      chgrp loki-gateway /etc/loki/tls/tls.key
      printf 'LOKI_API_HOST=0.0.0.0\\nLOKI_TLS_CERT=/etc/loki/tls/tls.crt\\nLOKI_TLS_KEY=/etc/loki/tls/tls.key\\n' >/etc/loki/gateway.env`);
    ca = sh('cat /etc/loki/tls/tls.crt');
    const start = steps.get(4) ?? [];
    assert.ok(start.some((l) => l.startsWith('systemctl enable --now lokid loki-gateway')), start.join('\n'));
    const out = sh(start.join('\n'));
    assert.match(out, /Driver:\s+docker reachable/, out);
    assert.equal(sh('systemctl is-active lokid loki-gateway').trim(), 'active\nactive');
    // Type=notify: "active (running)" is systemd's word that READY=1 came; STATUS= is set only through the notify socket.
    const d = show('lokid', 'Type', 'NotifyAccess', 'ActiveState', 'SubState', 'StatusText', 'NRestarts');
    assert.deepEqual(d, { Type: 'notify', NotifyAccess: 'main', ActiveState: 'active', SubState: 'running', StatusText: 'serving on /run/loki/admin.sock', NRestarts: '0' }, journal());
    assert.equal(sh('stat -c "%a %U %G" /run/loki /run/loki/admin.sock /run/loki/gateway.sock /var/lib/loki').trim(), '755 root root\n660 root loki-admin\n660 root loki-gateway\n700 root root');
  });

  it('runs a script session through the gateway (HTTPS, User=loki-gateway) in a real sandbox on the host dockerd', async () => {
    const step5 = documentedSteps().get(5) ?? [];
    const generate = step5.find((l) => l.startsWith('loki enterprise token generate'))!;
    token = /Token:\s+(\S+)/.exec(sh(`export LOKI_SOCKET=/run/loki/admin.sock\n${generate.replace(/\s+#.*$/, '')}`))![1]!;
    sh(`git init -q -b main /srv/git/demo
      git -C /srv/git/demo -c user.name=t -c user.email=t@loki.invalid commit -q --allow-empty -m init
      loki --socket /run/loki/admin.sock projects register /srv/git/demo --name demo >/dev/null`);
    assert.equal(show('loki-gateway', 'User').User, 'loki-gateway');
    assert.equal(sh('ps -o user= -p "$(systemctl show -p MainPID --value loki-gateway)"').trim(), 'loki-gateway');
    await until('the gateway to answer over HTTPS', async () => (await api('GET', '/api/status')).status === 200, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${journal()}`);
    });
    const sid = await startSession([{ write: 'hello.txt', content: 'hello from systemd\n' }, { run: 'cat hello.txt' }]);
    await waitSession(sid, 'completed', 120_000);
    firstSession = sid;
  });

  it('`systemctl reload lokid` (ExecReload, SIGHUP) re-reads lokid.yaml in the same process', () => {
    const pid = show('lokid', 'MainPID').MainPID;
    sh(`sed -i 's/^log_level: info/log_level: debug/' /etc/loki/lokid.yaml
      systemctl reload lokid`);
    const log = sh(`journalctl --no-pager -u lokid -n 20 -o cat`);
    assert.match(log, /"log_level":"debug".*"msg":"config reloaded"/, log);
    assert.deepEqual(show('lokid', 'MainPID', 'ActiveState', 'SubState'), { MainPID: pid, ActiveState: 'active', SubState: 'running' });
    sh('systemctl reload loki-gateway');
    assert.equal(sh('systemctl is-active loki-gateway').trim(), 'active');
  });

  it('`systemctl kill -s KILL lokid`: systemd restarts it; the store and a session running in its sandbox carry on', async () => {
    const sid = await startSession([{ run: 'sleep 6' }, { write: 'after.txt', content: 'after the restart\n' }, { run: 'cat after.txt' }]);
    await waitSession(sid, 'running', 60_000);
    // Kill only once the runner is past its Hello (it reported iteration 1, inside `sleep 6`): a Hello cut off by
    // the daemon's death is not asked again, the runner exits and the session fails (agent-runner/src/run.ts),
    // whatever the service manager; that window is not what this test is about.
    for (let i = 0; i < 30 && !((((await api('GET', `/api/sessions/${sid}`)).json.iteration as number | undefined) ?? 0) >= 1); i++) await new Promise((r) => setTimeout(r, 1000));
    const before = show('lokid', 'MainPID', 'WatchdogTimestampMonotonic');
    sh('systemctl kill -s KILL lokid');
    await until('systemd to restart lokid', async () => {
      const s = show('lokid', 'ActiveState', 'SubState', 'NRestarts', 'MainPID');
      return s.ActiveState === 'active' && s.SubState === 'running' && s.NRestarts === '1' && s.MainPID !== before.MainPID;
    }, 30_000);
    assert.equal((await api('GET', `/api/sessions/${firstSession}`)).status, 200);
    assert.equal(await sessionState(firstSession), 'completed');
    // The sandbox kept running; its agent channel (/run/loki/agents/<id>, bind-mounted into it) must still be the one lokid serves.
    await waitSession(sid, 'completed', 60_000);
    // The watchdog (WatchdogSec=30) is fed by the new process too.
    await until('a watchdog ping from the restarted lokid', async () => show('lokid', 'WatchdogTimestampMonotonic').WatchdogTimestampMonotonic !== before.WatchdogTimestampMonotonic, 30_000);
  });

  it('loki-health.service, installed as docs "Monitoring" says, writes loki_daemon_up 1 for node_exporter', () => {
    const md = readFileSync(join(REPO, 'docs', 'DEPLOYMENT.md'), 'utf8');
    const lines = md.slice(md.indexOf('## Monitoring')).split('\n');
    const install = lines.filter((l) => /^install .*(loki-health-textfile\.sh|loki-health\.service)/.test(l));
    assert.equal(install.length, 2, 'the two install lines of "Monitoring"');
    // prometheus-node-exporter's package makes this directory (root:root 0755).
    sh(`install -d -m 0755 /var/lib/prometheus/node-exporter\n${install.join('\n')}\nsystemctl daemon-reload\nsystemctl start loki-health.service`);
    const prom = sh('cat /var/lib/prometheus/node-exporter/loki.prom');
    assert.match(prom, /^loki_daemon_up 1$/m, prom);
    assert.match(prom, /^loki_audit_verify_ok 1$/m, prom);
  });

  it('`systemctl stop` ends the gateway and lokid cleanly (exit 0, no kill)', () => {
    sh('systemctl stop loki-gateway lokid');
    for (const unit of ['loki-gateway', 'lokid']) {
      assert.deepEqual(show(unit, 'ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus'), { ActiveState: 'inactive', Result: 'success', ExecMainCode: '1', ExecMainStatus: '0' }, `${unit}\n${journal()}`);
    }
    assert.doesNotMatch(sh('journalctl --no-pager -u lokid -u loki-gateway -o cat'), /State 'stop-sigterm' timed out|Killing process/);
    // The runtime directory outlives lokid (RuntimeDirectoryPreserve=yes): running sandboxes have their agent directories bind-mounted.
    assert.ok(readdirSync(join(scratch, 'run', 'loki')).includes('agents'));
  });
});

/** The sandboxes of a lokid whose LOKI_HOME is /var/lib/loki (this test's; the host has none, see before()). */
function removeSandboxes(): void {
  const rows = spawnSync('docker', ['ps', '-a', '--filter', 'label=loki.sandbox', '--format', '{{.ID}} {{.Label "loki.workspace"}}'], { encoding: 'utf8' }).stdout;
  for (const [cid, ws] of rows.split('\n').filter(Boolean).map((r) => r.split(' '))) if (ws?.startsWith('/var/lib/loki/')) spawnSync('docker', ['rm', '-f', cid!]);
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
