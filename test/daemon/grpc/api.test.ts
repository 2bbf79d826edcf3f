import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { SandboxServiceClient, type ExecResponse, type StartSandboxRequest } from '../../../proto/gen/loki/v1/sandbox.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { HealthClient, HealthCheckResponse_ServingStatus } from '../../../proto/gen/grpc/health/v1/health.js';
import { clientFor, errorCode, startTestDaemon, unaryCall, SANDBOX_IMAGE } from '../../helpers/daemon.js';
import { START, execIn, instanceContainers, removeInstanceContainers, requireImage, type SandboxClient } from '../../helpers/sandbox.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;
type GrpcError = Error & { code: number; details: string };

/** Asserts the call failed with this gRPC status, Loki code in metadata, and a message matching `msg`. */
async function rejectsWith(p: Promise<unknown>, grpcStatus: number, code: string, msg: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const err = e as GrpcError;
    assert.equal(err.code, grpcStatus, `status ${err.code} (${err.details})`);
    assert.equal(errorCode(err), code);
    assert.match(err.details, msg);
    return true;
  });
}

/** A gateway call made with a real token's credential (the daemon verifies it; forwarded subjects are ignored). */
function asGateway(credential?: string): Metadata {
  const md = new Metadata();
  if (credential) md.set('x-loki-credential', credential);
  return md;
}

/** Opens an Exec stream, sends `msgs` (then half-closes), and resolves with the error it ends with. */
function execStreamError(client: SandboxClient, msgs: Parameters<ReturnType<SandboxClient['exec']>['write']>[0][]): Promise<GrpcError> {
  return new Promise((resolve, reject) => {
    const call = client.exec(new Metadata());
    call.on('data', (_m: ExecResponse) => undefined);
    call.on('error', (e) => resolve(e as GrpcError));
    call.on('end', () => reject(new Error('the stream ended without an error')));
    for (const m of msgs) call.write(m);
    call.end();
  });
}

describe('lokid gRPC API (real daemon, real dockerd)', function () {
  this.timeout(120_000);
  let d: TestDaemon;
  let sandbox: SandboxClient;
  let gwSandbox: SandboxClient;

  before(async () => {
    await requireImage();
    d = await startTestDaemon();
    sandbox = clientFor(SandboxServiceClient, d.paths.adminSocket);
    gwSandbox = clientFor(SandboxServiceClient, d.paths.gatewaySocket);
  });

  after(async () => {
    sandbox?.close();
    gwSandbox?.close();
    if (d) await removeInstanceContainers(d.home);
    await d?.cleanup();
  });

  describe('bad requests', () => {
    const start = (req: Partial<StartSandboxRequest>) => unaryCall(sandbox.start.bind(sandbox), { ...START, ...req });

    it('rejects an empty id with INVALID_ARGUMENT', async () => {
      await rejectsWith(unaryCall(sandbox.status.bind(sandbox), { id: '' }), status.INVALID_ARGUMENT, 'invalid_argument', /id is required/);
    });

    it('rejects a path-like id such as ../etc', async () => {
      await rejectsWith(unaryCall(sandbox.status.bind(sandbox), { id: '../etc' }), status.INVALID_ARGUMENT, 'invalid_argument', /^"\.\.\/etc" is not a sandbox id \(sbx-…\) or name/);
    });

    it('rejects a 10 KB id and does not echo all of it back', async () => {
      const id = 'a'.repeat(10 * 1024);
      await assert.rejects(unaryCall(sandbox.status.bind(sandbox), { id }), (e: unknown) => {
        const err = e as GrpcError;
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.equal(errorCode(err), 'invalid_argument');
        assert.ok(err.details.length < 200, `message is short (${err.details.length} chars)`);
        return true;
      });
    });

    it('answers NOT_FOUND for an unknown sandbox id or name', async () => {
      await rejectsWith(unaryCall(sandbox.status.bind(sandbox), { id: 'sbx-000000000000' }), status.NOT_FOUND, 'sandbox_not_found', /no sandbox "sbx-000000000000"/);
      await rejectsWith(unaryCall(sandbox.stop.bind(sandbox), { id: 'no-such-box', timeoutSeconds: 0, keep: false }), status.NOT_FOUND, 'sandbox_not_found', /no sandbox "no-such-box"/);
    });

    it('rejects an invalid sandbox name', async () => {
      await rejectsWith(start({ name: 'Bad Name!' }), status.INVALID_ARGUMENT, 'invalid_argument', /name "Bad Name!" must match/);
    });

    it('rejects an env key containing "="', async () => {
      await rejectsWith(start({ env: { 'A=B': 'x' } }), status.INVALID_ARGUMENT, 'invalid_argument', /env key "A=B" is not a valid variable name/);
    });

    it('rejects a command larger than 128 KB', async () => {
      await rejectsWith(start({ command: ['sh', '-c', 'x'.repeat(129 * 1024)] }), status.INVALID_ARGUMENT, 'payload_too_large', /command is larger than 131072 bytes/);
    });

    it('rejects a limit above the daemon’s ceiling', async () => {
      await rejectsWith(
        start({ limits: { memoryBytes: d.config.sandbox.memory * 2, cpus: 0, pids: 0 } }),
        status.INVALID_ARGUMENT,
        'invalid_argument',
        /limits\.memory \d+ exceeds the daemon's ceiling/,
      );
    });

    it('rejects an exec stream whose first message is not `start`', async () => {
      const err = await execStreamError(sandbox, [{ msg: { $case: 'stdin', stdin: Buffer.from('ls\n') } }]);
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.equal(errorCode(err), 'invalid_argument');
      assert.match(err.details, /first exec message must be `start`/);
    });

    it('rejects an exec stream that ends before `start`', async () => {
      const err = await execStreamError(sandbox, []);
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /ended before a start message/);
    });

    it('refuses a relaxation the daemon config does not allow, even when the request asks', async () => {
      await rejectsWith(
        start({ relax: { network: true, writableRootfs: false, rootUser: false } }),
        status.PERMISSION_DENIED,
        'relaxation_not_allowed',
        /does not allow relaxing network \(set sandbox\.allow\.network: true/,
      );
      assert.deepEqual(await instanceContainers(d.home), [], 'no container was created');
    });

    it('is still SERVING after all of the above', async () => {
      const h = clientFor(HealthClient, d.paths.adminSocket);
      try {
        const res = await unaryCall(h.check.bind(h), { service: '' });
        assert.equal(res.status, HealthCheckResponse_ServingStatus.SERVING);
      } finally {
        h.close();
      }
    });
  });

  describe('health', () => {
    it('reports SERVING for the daemon and NOT_FOUND for an unknown service', async () => {
      const h = clientFor(HealthClient, d.paths.gatewaySocket);
      try {
        assert.equal((await unaryCall(h.check.bind(h), { service: '' })).status, HealthCheckResponse_ServingStatus.SERVING);
        assert.equal((await unaryCall(h.check.bind(h), { service: 'loki.v1.SandboxService' })).status, HealthCheckResponse_ServingStatus.SERVING);
        await assert.rejects(unaryCall(h.check.bind(h), { service: 'no.such.Service' }), (e: unknown) => (e as GrpcError).code === status.NOT_FOUND);
      } finally {
        h.close();
      }
    });
  });

  describe('callers and the two doors', () => {
    const secrets = new Map<string, string>();
    /** A real API token `name` with these scopes (one per name, minted on first use). */
    const tok = async (name: string, scopes: string[]) => {
      if (!secrets.has(name)) secrets.set(name, (await d.tokens.generate({ name, scopes, expiresDays: 0, owner: 'local:0' })).secret);
      return secrets.get(name)!;
    };
    it('honours a verified credential on the gateway socket and ignores forwarded identity on the admin socket', async () => {
      const gw = clientFor(SystemServiceClient, d.paths.gatewaySocket);
      const admin = clientFor(SystemServiceClient, d.paths.adminSocket);
      try {
        const viaGw = await unaryCall(gw.getStatus.bind(gw), {}, asGateway(await tok('alice', ['control'])));
        assert.equal(viaGw.callerRole, 'gateway');
        assert.equal(viaGw.callerSubject, 'token:alice');
        const forged = asGateway();
        forged.set('x-loki-subject', 'token:mallory');
        const viaAdmin = await unaryCall(admin.getStatus.bind(admin), {}, forged);
        assert.equal(viaAdmin.callerRole, 'local-admin');
        assert.equal(viaAdmin.callerSubject, `local:${process.getuid?.() ?? 0}`);
        // The driver-neutral status says the same as the Docker-named fields it sits beside.
        assert.equal(viaAdmin.sandboxDriver, 'docker');
        assert.equal(viaAdmin.sandboxDriverCanPause, true);
        assert.equal(viaAdmin.sandboxDriverReachable, viaAdmin.dockerReachable);
        assert.equal(viaAdmin.sandboxDriverVersion, viaAdmin.dockerVersion);
        assert.match(viaAdmin.sandboxDriverVersion, /^\d+\./);
      } finally {
        gw.close();
        admin.close();
      }
    });

    it('refuses Start on the gateway socket when no credential is forwarded, or a viewer\'s is', async () => {
      await rejectsWith(unaryCall(gwSandbox.start.bind(gwSandbox), START, asGateway()), status.UNAUTHENTICATED, 'unauthenticated', /needs the end user's credential/);
      await rejectsWith(unaryCall(gwSandbox.start.bind(gwSandbox), START, asGateway(await tok('viewer', ['read']))), status.PERMISSION_DENIED, 'permission_denied', /needs the "control" scope/);
    });

    it('hides a sandbox started by gateway subject A from subject B, but not from a `*` holder', async () => {
      const a = asGateway(await tok('alice', ['control']));
      const sb = (await unaryCall(gwSandbox.start.bind(gwSandbox), { ...START, name: 'alices' }, a)).sandbox!;
      assert.equal(sb.owner, 'token:alice');
      const asAlice = await unaryCall(gwSandbox.status.bind(gwSandbox), { id: sb.id }, asGateway(await tok('alice', ['control'])));
      assert.equal(asAlice.id, sb.id);
      for (const ref of [sb.id, 'alices']) {
        await rejectsWith(unaryCall(gwSandbox.status.bind(gwSandbox), { id: ref }, asGateway(await tok('bob', ['control']))), status.NOT_FOUND, 'sandbox_not_found', /no sandbox/);
      }
      await rejectsWith(unaryCall(gwSandbox.stop.bind(gwSandbox), { id: sb.id, timeoutSeconds: 1, keep: false }, asGateway(await tok('bob', ['control']))), status.NOT_FOUND, 'sandbox_not_found', /no sandbox/);
      const bobList = await unaryCall(gwSandbox.list.bind(gwSandbox), { all: true }, asGateway(await tok('bob', ['control'])));
      assert.ok(!bobList.sandboxes.some((s) => s.id === sb.id), 'B does not see it in List');
      const admin = await unaryCall(gwSandbox.status.bind(gwSandbox), { id: sb.id }, asGateway(await tok('root', ['*'])));
      assert.equal(admin.owner, 'token:alice');
      const r = await execIn(gwSandbox, sb.id, ['sh', '-c', 'exit 7'], asGateway(await tok('alice', ['control'])));
      assert.equal(r.code, 7);
      const stopped = await unaryCall(gwSandbox.stop.bind(gwSandbox), { id: sb.id, timeoutSeconds: 1, keep: false }, asGateway(await tok('root', ['*'])));
      assert.equal(stopped.removed, true);
    });
  });
});

describe('lokid hardening keys (real daemon, real dockerd)', function () {
  this.timeout(120_000);
  before(requireImage);

  it('starts with a bridge network only when the config allows it AND the request asks', async () => {
    const d = await startTestDaemon({ overrides: { sandbox: { image: SANDBOX_IMAGE, stop_timeout_seconds: 2, allow: { network: true } } } });
    const client = clientFor(SandboxServiceClient, d.paths.adminSocket);
    try {
      const plain = (await unaryCall(client.start.bind(client), START)).sandbox!;
      assert.equal(plain.hardening!.networkMode, 'none', 'config alone relaxes nothing');
      const relaxed = (await unaryCall(client.start.bind(client), { ...START, relax: { network: true, writableRootfs: false, rootUser: false } })).sandbox!;
      assert.equal(relaxed.hardening!.networkMode, 'bridge');
      const byLabel = await instanceContainers(d.home);
      const modes = Object.fromEntries(byLabel.map((c) => [c.Labels['loki.sandbox'], c.HostConfig.NetworkMode]));
      assert.deepEqual(modes, { [plain.id]: 'none', [relaxed.id]: 'bridge' });
      await rejectsWith(
        unaryCall(client.start.bind(client), { ...START, relax: { network: false, writableRootfs: true, rootUser: false } }),
        status.PERMISSION_DENIED,
        'relaxation_not_allowed',
        /writable_rootfs/,
      );
    } finally {
      client.close();
      await removeInstanceContainers(d.home);
      await d.cleanup();
    }
  });

  it('refuses to start any sandbox when the seccomp profile is missing, and creates no container', async () => {
    const d = await startTestDaemon({ overrides: { sandbox: { image: SANDBOX_IMAGE, stop_timeout_seconds: 2, seccomp_profile: '/nonexistent.json' } } });
    const client = clientFor(SandboxServiceClient, d.paths.adminSocket);
    const health = clientFor(HealthClient, d.paths.adminSocket);
    try {
      await rejectsWith(
        unaryCall(client.start.bind(client), { ...START, name: 'no-seccomp' }),
        status.FAILED_PRECONDITION,
        'hardening_unavailable',
        /cannot read the seccomp profile \/nonexistent\.json \(ENOENT\); refusing to start a sandbox/,
      );
      assert.deepEqual(await instanceContainers(d.home), [], 'docker ps -a shows no container for this daemon');
      assert.equal((await unaryCall(health.check.bind(health), { service: '' })).status, HealthCheckResponse_ServingStatus.SERVING);
    } finally {
      client.close();
      health.close();
      await removeInstanceContainers(d.home);
      await d.cleanup();
    }
  });
});
