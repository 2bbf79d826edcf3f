// A compromised gateway's other tries, on a real lokid's gateway.sock: garbled
// credentials, enormous metadata and messages, and reading secrets back. Each
// is already refused; these tests keep it so. (Forged subjects and scopes,
// viewer tokens with forged `*`, OIDC JWTs: gateway-trust.test.ts; batches:
// grpc/batch.test.ts; streams: gateway-streams.test.ts; audit forgery:
// audit/grpc.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Metadata, credentials, status, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { AuditServiceService } from '../../../proto/gen/loki/v1/audit.js';
import { PolicyServiceService } from '../../../proto/gen/loki/v1/policy.js';
import { SandboxServiceClient, SandboxServiceService } from '../../../proto/gen/loki/v1/sandbox.js';
import { SessionServiceService } from '../../../proto/gen/loki/v1/sessions.js';
import { SystemServiceService } from '../../../proto/gen/loki/v1/system.js';
import { TokenServiceClient, TokenServiceService, VerifyTokenRequest } from '../../../proto/gen/loki/v1/tokens.js';
import { queryAuditLog } from '../../../daemon/src/audit/query.js';
import { WorkspaceServiceService } from '../../../proto/gen/loki/v1/workspace.js';
import { authConfigSchema } from '../../../daemon/src/auth/config.js';
import { hashSecret } from '../../../daemon/src/tokens/secret.js';
import { clientFor, errorCode, startTestDaemon, unaryCall, withCredential } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

const SERVICES = [TokenServiceService, SessionServiceService, SandboxServiceService, PolicyServiceService, AuditServiceService, SystemServiceService, WorkspaceServiceService] as unknown as ServiceDefinition[];
/** Methods that only read: safe to call with an empty request and an admin's credential. */
const READS = /^(List|Get|Show|Query|Summary|Verify|Metrics|Status|Explain|AuditLog|AuditCount)/;
const KEYS = { openai: 'sk-h16-openai-0123456789abcdef', claude: 'sk-ant-h16-0123456789abcdef', upstream: 'sk-h16-upstream-0123456789abcdef' };

const raw = (b: Buffer) => b;

/** Each call on its own connection: one the attacker breaks must not be what an honest call rides on. */
function connection(socket: string): Client {
  return new Client(`unix:${socket}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function unaryRaw(client: Client, path: string, body: Buffer, md: Metadata, ms = 10_000): Promise<{ err?: ServiceError; res?: Buffer }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, raw, raw, body, md, { deadline: Date.now() + ms }, (err, res) => resolve(err ? { err } : { res: res! }));
  });
}

describe('gateway door: what a compromised gateway cannot get from lokid (attacker\'s view)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let admin: string;
  const STATUS = SystemServiceService.getStatus.path;

  /** lokid still answers a real user on a fresh connection. */
  async function stillServing(): Promise<void> {
    const c = connection(d.paths.gatewaySocket);
    try {
      const r = await unaryRaw(c, STATUS, Buffer.alloc(0), withCredential(admin));
      assert.equal(r.err, undefined, `lokid stopped serving: ${r.err?.details}`);
    } finally {
      c.close();
    }
  }

  before(async () => {
    d = await startTestDaemon({
      home: shortTempDir('h16-gwattack'),
      overrides: {
        sessions: {
          openai: { api_key: KEYS.openai, upstreams: { other: { base_url: 'https://models.example.com/v1', api_key: KEYS.upstream } } },
          claude: { api_key: KEYS.claude },
        },
      },
    });
    admin = (await d.tokens.generate({ name: 'seen-admin', role: 'admin', expiresDays: 1, owner: 'local:0' })).secret;
  });

  after(async () => {
    await d?.cleanup();
  });

  it('answers garbled, oversized and unknown credentials with UNAUTHENTICATED saying which, and keeps serving', async () => {
    const c = connection(d.paths.gatewaySocket);
    try {
      const cases: [string, RegExp][] = [
        ['x'.repeat(20_000), /malformed/],
        ['not-a-token', /not a Loki API token/],
        [`loki_${'A'.repeat(40)}`, /is not valid/],
        [`${admin.slice(0, -1)}${admin.endsWith('A') ? 'B' : 'A'}`, /is not valid/],
        ['eyJhbGciOiJub25lIn0.eyJzdWIiOiJjZW8ifQ.', /not a Loki API token|OIDC/],
      ];
      for (const [credential, why] of cases) {
        const { err } = await unaryRaw(c, TokenServiceService.list.path, Buffer.alloc(0), withCredential(credential));
        assert.ok(err, `accepted ${credential.slice(0, 40)}`);
        assert.equal(err.code, status.UNAUTHENTICATED, err.details);
        assert.equal(errorCode(err), 'unauthenticated');
        assert.match(err.details, why);
      }
    } finally {
      c.close();
    }
    await stillServing();
  });

  it('drops a call with enormous metadata without harm to anyone else', async () => {
    const c = connection(d.paths.gatewaySocket);
    const c2 = connection(d.paths.gatewaySocket);
    try {
      const huge = new Metadata();
      huge.set('x-loki-credential', 'x'.repeat(300_000));
      assert.ok((await unaryRaw(c, STATUS, Buffer.alloc(0), huge, 2000)).err);
      const many = new Metadata();
      for (let i = 0; i < 2000; i++) many.set(`x-loki-junk-${i}`, 'v'.repeat(200));
      assert.ok((await unaryRaw(c2, STATUS, Buffer.alloc(0), many, 2000)).err);
    } finally {
      c.close();
      c2.close();
    }
    await stillServing();
  });

  it('refuses a request over 4 MiB with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const c = connection(d.paths.gatewaySocket);
    try {
      const body = Buffer.from(VerifyTokenRequest.encode({ secret: 'x'.repeat(5 * 1024 * 1024) }).finish());
      const { err } = await unaryRaw(c, TokenServiceService.verify.path, body, withCredential(admin));
      assert.ok(err);
      assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.details);
    } finally {
      c.close();
    }
    await stillServing();
  });

  it('returns no model API key, audit key, token hash or other token secret from any read, even with an admin\'s credential', async () => {
    const other = (await d.tokens.generate({ name: 'other', role: 'operator', expiresDays: 1, owner: 'local:0' })).secret;
    const auditKey = readFileSync(join(d.paths.stateDir, 'audit.key'));
    const needles: [string, string][] = [
      ...Object.entries(KEYS).map(([k, v]): [string, string] => [`${k} API key`, v]),
      ['audit key (hex)', auditKey.toString('hex')],
      ['audit key (base64)', auditKey.toString('base64')],
      ['audit key (base64url)', auditKey.toString('base64url')],
      ['another token\'s secret', other],
      ['the bootstrap admin token', readFileSync(d.paths.cliTokenFile, 'utf8').trim()],
    ];
    for (const s of [admin, other]) {
      const h = hashSecret(s);
      needles.push(['a token hash (hex)', h.toString('hex')], ['a token hash (base64)', h.toString('base64')], ['a token hash (base64url)', h.toString('base64url')]);
    }
    const c = connection(d.paths.gatewaySocket);
    let reads = 0;
    try {
      for (const def of SERVICES) {
        for (const m of Object.values(def)) {
          const name = m.path.split('/')[2]!;
          if (m.requestStream || m.responseStream || !READS.test(name)) continue;
          const body = m.path === TokenServiceService.verify.path ? Buffer.from(VerifyTokenRequest.encode({ secret: other }).finish()) : Buffer.alloc(0);
          // As the admin whose credential passed through, and as the gateway itself (no credential).
          for (const md of [withCredential(admin), new Metadata()]) {
            const { err, res } = await unaryRaw(c, m.path, body, md);
            const text = Buffer.concat([res ?? Buffer.alloc(0), Buffer.from(err?.details ?? '')]).toString('latin1');
            for (const [what, needle] of needles) assert.ok(!text.includes(needle), `${m.path} returned ${what}`);
            // The raw key bytes, too (a response is binary protobuf).
            assert.ok(!(res ?? Buffer.alloc(0)).includes(auditKey), `${m.path} returned the audit key`);
            if (!err) reads++;
          }
        }
      }
    } finally {
      c.close();
    }
    assert.ok(reads >= 15, `only ${reads} reads answered`);
    // The OIDC client secret is the gateway's alone: lokid's config has no place for it.
    assert.equal(authConfigSchema.safeParse({ oidc: { issuer: 'https://idp.example.com', client_id: 'loki', client_secret: 's3cret' } }).success, false);
  });

  it('audits what a call does even when its request id or client ip is longer than the audit log holds (the field is dropped, not the entry)', async function () {
    this.timeout(120_000);
    const victim = await d.tokens.generate({ name: 'to-revoke', role: 'viewer', expiresDays: 1, owner: 'local:0' });
    const tokens = clientFor(TokenServiceClient, d.paths.gatewaySocket);
    const sandboxes = clientFor(SandboxServiceClient, d.paths.gatewaySocket);
    const local = clientFor(SandboxServiceClient, d.paths.adminSocket);
    const md = (k: string, v: string) => {
      const m = withCredential(admin);
      m.set(k, v);
      return m;
    };
    const entries = async (action: string) => (await queryAuditLog(d.audit.dir, { limit: 100, action })).entries;
    try {
      await unaryCall(tokens.revoke.bind(tokens), { nameOrId: 'to-revoke' }, md('x-loki-request-id', 'r'.repeat(200))).catch(() => undefined);
      if ((await d.tokens.list({ all: true })).find((t) => t.id === victim.token.id)?.revokedAt) {
        assert.ok((await entries('token.revoke')).some((e) => e.resource === `token:${victim.token.id}` && e.result === 'success'), 'the token was revoked without an audit entry');
      }
      await unaryCall(sandboxes.start.bind(sandboxes), { name: 'h16-unaudited', project: '', image: '', command: [], env: {}, limits: undefined, relax: undefined }, md('x-loki-client-ip', '203.0.113.7'.padEnd(100, '7'))).catch(() => undefined);
      const box = (await unaryCall(local.list.bind(local), { all: true })).sandboxes.find((b) => b.name === 'h16-unaudited');
      if (box) {
        await unaryCall(local.remove.bind(local), { id: box.id, force: true });
        assert.ok((await entries('sandbox.start')).some((e) => e.resource === `sandbox:${box.id}` && e.result === 'success'), 'a sandbox was started without an audit entry');
      }
      // Nothing refused the calls themselves: they were served, and audited.
      assert.ok((await d.tokens.list({ all: true })).find((t) => t.id === victim.token.id)?.revokedAt);
      assert.ok(box, 'the sandbox was not started');
    } finally {
      tokens.close();
      sandboxes.close();
      local.close();
    }
  });

  it('holds back an exec client that sends stdin faster than the process reads it, instead of buffering it all in lokid', async function () {
    this.timeout(120_000);
    const gw = clientFor(SandboxServiceClient, d.paths.gatewaySocket);
    const local = clientFor(SandboxServiceClient, d.paths.adminSocket);
    const md = () => withCredential(admin);
    const box = (await unaryCall(gw.start.bind(gw), { name: 'h16-stdin', project: '', image: '', command: [], env: {}, limits: undefined, relax: undefined }, md())).sandbox!;
    const call = gw.exec(md());
    call.on('data', () => {});
    call.on('error', () => {});
    try {
      call.write({ msg: { $case: 'start', start: { id: box.id, argv: ['sleep', '600'], tty: false, cols: 0, rows: 0, env: {}, workdir: '' } } });
      // `sleep` never reads its stdin: whatever lokid takes beyond the pipe it must hold in memory.
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      const until = Date.now() + 15_000;
      let sent = 0;
      while (sent < 200 && Date.now() < until) {
        const more = call.write({ msg: { $case: 'stdin', stdin: chunk } });
        sent++;
        if (!more) await Promise.race([new Promise((r) => call.once('drain', r)), new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())))]);
      }
      assert.ok(sent < 100, `lokid took ${sent} MiB of stdin that nothing reads`);
    } finally {
      call.cancel();
      await unaryCall(local.remove.bind(local), { id: box.id, force: true }).catch(() => undefined);
      gw.close();
      local.close();
    }
    await stillServing();
  });
});
