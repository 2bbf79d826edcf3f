// sandbox.runtime: runsc (gVisor). The daemon refuses to fall back to runc when
// the engine lacks the runtime, applies it, and reports it; every other control
// is still checked by docker inspect (hardening.test.ts runs once more under
// runsc in CI with LOKI_TEST_RUNTIME=runsc).
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { SandboxServiceClient } from '../../../proto/gen/loki/v1/sandbox.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { containerName } from '../../../daemon/src/sandbox/docker-driver.js';
import { resolveHardening } from '../../../daemon/src/sandbox/hardening.js';
import { loadDaemonConfig, seccompProfilePath } from '../../../daemon/src/config.js';
import { LokiError } from '../../../common/src/index.js';
import { clientFor, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { lokiProcess } from '../../helpers/entry.js';
import { execIn } from '../../helpers/sandbox.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const START = { name: 'gvisor', project: 'demo', image: '', command: [] as string[], env: {}, limits: undefined, relax: undefined };
const NO_RELAX = { network: false, writableRootfs: false, rootUser: false };
const PROBE = `node -e "console.log('node=ok')"; grep Seccomp: /proc/self/status; unshare --user true 2>/dev/null; echo "unshare=$?"; node -e "require('child_process').execFileSync('mount',['-t','tmpfs','x','/mnt'])" 2>/dev/null; echo "mount=$?"; echo done; sleep 600`;

async function logsUntil(id: string, done: RegExp): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const buf = (await docker.getContainer(containerName(id)).logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    const text = buf.toString('latin1');
    if (done.test(text)) return text;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`sandbox ${id} never printed ${done}`);
}

describe('Sandbox runtime (sandbox.runtime: runc | runsc)', function () {
  this.timeout(120_000);

  it('rejects an unknown runtime in the config with the path and the choices', () => {
    assert.throws(
      () => loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x', LOKI_SANDBOX_RUNTIME: 'kata' } }),
      (err: Error & { problems?: string[] }) => (err.problems ?? []).some((p) => p.startsWith('sandbox.runtime') && p.includes('runsc')),
    );
  });

  it('refuses to start a sandbox when runsc is configured but the engine has no such runtime (no silent runc)', async () => {
    const config = loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x', LOKI_SANDBOX_RUNTIME: 'runsc' } }).sandbox;
    await assert.rejects(
      resolveHardening({ config, seccompPath: seccompProfilePath(config), defaultUser: '1000:1000', engineSupportsSeccomp: true, engineRuntimes: { runc: [] } }, { relax: NO_RELAX, limits: {} }),
      (err: unknown) => err instanceof LokiError && err.code === 'hardening_unavailable' && /no such runtime/.test(err.message) && /register-runsc/.test(err.message),
    );
  });

  it('refuses runsc registered without --oci-seccomp, which would drop the seccomp profile inside gVisor', async () => {
    const config = loadDaemonConfig({ env: { LOKI_HOME: '/tmp/x', LOKI_SANDBOX_RUNTIME: 'runsc' } }).sandbox;
    const engineRuntimes = { runc: [], runsc: ['--network=none'] };
    await assert.rejects(
      resolveHardening({ config, seccompPath: seccompProfilePath(config), defaultUser: '1000:1000', engineSupportsSeccomp: true, engineRuntimes }, { relax: NO_RELAX, limits: {} }),
      (err: unknown) => err instanceof LokiError && err.code === 'hardening_unavailable' && /without --oci-seccomp/.test(err.message),
    );
  });

  describe('under gVisor on the real engine', () => {
    let d: Awaited<ReturnType<typeof startTestDaemon>>;
    before(async () => {
      const runtimes = Object.keys(((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
      if (!runtimes.includes('runsc')) {
        throw new Error('dockerd has no runsc runtime; register it with scripts/register-runsc.sh (LOKI_SETUP_GVISOR=1 scripts/setup.sh, as .ci/run does)');
      }
      d = await startTestDaemon({ overrides: { sandbox: { runtime: 'runsc' } } });
    });
    after(async () => {
      for (const s of (await d?.manager.list({ role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: '', clientIp: '' }, true)) ?? []) {
        await docker.getContainer(containerName(s.id)).remove({ force: true }).catch(() => undefined);
      }
      await d?.cleanup();
    });

    it('starts the sandbox under runsc with every control still applied, and status names the runtime', async () => {
      const client = clientFor(SandboxServiceClient, d.paths.adminSocket);
      const system = clientFor(SystemServiceClient, d.paths.adminSocket);
      try {
        const sb = (await unaryCall(client.start.bind(client), START)).sandbox!;
        const ins = await docker.getContainer(containerName(sb.id)).inspect();
        const hc = ins.HostConfig as Record<string, unknown> & { SecurityOpt: string[]; CapDrop: string[] };
        assert.equal(hc.Runtime, 'runsc');
        assert.equal(hc.ReadonlyRootfs, true);
        assert.deepEqual(hc.CapDrop, ['ALL']);
        assert.ok(hc.SecurityOpt.includes('no-new-privileges:true'));
        assert.ok(hc.SecurityOpt.some((o) => o.startsWith('seccomp=') && o.includes('SCMP_ACT_ERRNO')));
        assert.equal(hc.NetworkMode, 'none');
        assert.equal(hc.Privileged, false);
        assert.equal(ins.Config.User, '64000:64000', 'the dedicated sandbox uid, under gVisor too');
        // The kernel the agent talks to is gVisor's, not the host's.
        const r = await execIn(client, sb.id, ['dmesg']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /gVisor/);
        // The Loki seccomp profile applies inside gVisor (--oci-seccomp) to the sandbox's own
        // process tree, which is where a session's runner and its agent's commands run.
        const probe = (await unaryCall(client.start.bind(client), { ...START, name: 'probe', command: ['sh', '-c', PROBE] })).sandbox!;
        const out = await logsUntil(probe.id, /done/);
        // node starts threads (clone3 → clone fallback; see adaptProfileForGvisor).
        assert.match(out, /node=ok/);
        assert.match(out, /Seccomp:\s+2/);
        assert.match(out, /unshare=[1-9]/);
        assert.match(out, /mount=[1-9]/);
        const st = await unaryCall(system.getStatus.bind(system), {});
        assert.equal(st.sandboxRuntime, 'runsc');
        assert.equal(st.sandboxRuntimeRegistered, true);
      } finally {
        client.close();
        system.close();
      }
    });
  });

  // runsc is registered with --network=none, so a sandbox network cannot exist under it: even with both
  // keys turned, `--allow-network` is refused with the reason, not started network-less in silence.
  describe('a network under gVisor (both keys turned)', () => {
    let d: Awaited<ReturnType<typeof startTestDaemon>>;
    before(async () => {
      d = await startTestDaemon({ overrides: { sandbox: { runtime: 'runsc', allow: { network: true } } } });
    });
    after(async () => {
      for (const s of (await d?.manager.list({ role: 'local-admin', subject: 'local:0', scopes: ['*'], auth: 'local', requestId: '', clientIp: '' }, true)) ?? []) {
        await docker.getContainer(containerName(s.id)).remove({ force: true }).catch(() => undefined);
      }
      await d?.cleanup();
    });

    it('refuses `loki sandbox start --allow-network` with exit 4 and why, and starts nothing', async () => {
      const { code, err: stderr } = await lokiProcess(d.home, d.paths.adminSocket, ['sandbox', 'start', '--name', 'netty', '--allow-network']);
      assert.equal(code, 4, stderr);
      assert.match(stderr, /a sandbox network is not available under gVisor: sandbox\.runtime is runsc/);
      const admin = { role: 'local-admin' as const, subject: 'local:0', scopes: ['*'], auth: 'local', requestId: '', clientIp: '' };
      assert.deepEqual((await d.manager.list(admin, true)).map((s) => s.name), [], 'no sandbox was started');
    });
  });
});
