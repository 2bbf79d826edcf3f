// TokenService over real gRPC on unix sockets: one server per listener role,
// exactly as the daemon mounts modules, so the role really comes from the door.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import type { AuditEventInput, AuditLog } from '../../../daemon/src/audit/types.js';
import type { CallerRole } from '../../../daemon/src/authz/caller.js';
import { createTokenModule } from '../../../daemon/src/tokens/grpc.js';
import { createCredentialVerifier } from '../../../daemon/src/auth/verifier.js';
import { makeFixture, type Fixture } from './helpers.js';

interface Door {
  server: Server;
  client: TokenServiceClient;
}

function listen(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
}

function md(headers: Record<string, string> = {}): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k, v);
  return m;
}

type Method = 'generate' | 'list' | 'revoke' | 'verify';

function rpc<Res>(client: TokenServiceClient, method: Method, req: object, meta = md()): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method].bind(client) as unknown as (r: object, m: Metadata, cb: (e: ServiceError | null, r: Res) => void) => void;
    fn(req, meta, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function rejectsWith(p: Promise<unknown>, grpcStatus: number, code: string): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    const se = err as ServiceError;
    assert.equal(se.code, grpcStatus, se.details);
    assert.equal(se.metadata.get('x-loki-error-code')[0], code);
    return se;
  }
  assert.fail('expected the call to fail');
}

describe('TokenService over gRPC', function () {
  let f: Fixture;
  let events: AuditEventInput[];
  const doors = new Map<CallerRole, Door>();
  const admin = () => doors.get('local-admin')!.client;
  const gateway = () => doors.get('gateway')!.client;
  /** What a gateway sends: the user's credential, plus subject/scopes claims the daemon must ignore. */
  const gw = (credential: string | undefined, forged: { subject?: string; scopes?: string } = {}) =>
    md({
      ...(credential ? { 'x-loki-credential': credential } : {}),
      ...(forged.subject ? { 'x-loki-subject': forged.subject } : {}),
      ...(forged.scopes ? { 'x-loki-scopes': forged.scopes } : {}),
      'x-loki-client-ip': '203.0.113.7',
      'x-loki-request-id': 'req-1',
    });
  const mint = async (name: string, role: 'admin' | 'operator' | 'viewer') => (await f.store.generate({ name, role, scopes: [], expiresDays: 0, owner: 'local:0' })).secret;

  beforeEach(async () => {
    f = makeFixture();
    events = [];
    const audit: AuditLog = { record: async (e) => void events.push(e) };
    const mod = createTokenModule({ store: f.store, audit });
    for (const role of ['local-admin', 'gateway', 'agent'] as const) {
      const server = new Server();
      // The daemon registers a module only on the listeners its roles allow.
      if (mod.roles.includes(role)) {
        mod.register(server, { log: f.log, listener: { role, sessionId: 's1', localUid: 1000 }, trust: { verifier: createCredentialVerifier({ tokens: f.store }) } });
      }
      const sock = join(f.home, `${role}.sock`);
      await listen(server, `unix:${sock}`);
      doors.set(role, { server, client: new TokenServiceClient(`unix:${sock}`, credentials.createInsecure()) });
    }
  });

  afterEach(async () => {
    for (const d of doors.values()) {
      d.client.close();
      d.server.forceShutdown();
    }
    doors.clear();
    await f.cleanup();
  });

  it('generates on the admin socket and the gateway verifies the secret', async () => {
    const gen = await rpc<{ secret: string; token: { id: string; owner: string; scopes: string[] } }>(admin(), 'generate', {
      name: 'ci-bot',
      scopes: ['read', 'write'],
      role: '',
      expiresDays: 30,
    });
    assert.match(gen.secret, /^loki_/);
    assert.equal(gen.token.owner, 'local:1000');
    const v = await rpc<{ valid: boolean; subject: string; token: { id: string; scopes: string[] } }>(gateway(), 'verify', { secret: gen.secret });
    assert.equal(v.valid, true);
    assert.equal(v.subject, 'token:ci-bot');
    assert.deepEqual(v.token.scopes, ['read', 'write']);
    assert.equal(v.token.id, gen.token.id);
  });

  it('tells the gateway why a token was refused, for its metrics', async () => {
    const gen = await rpc<{ secret: string }>(admin(), 'generate', { name: 'x', scopes: [], role: '', expiresDays: 0 });
    await rpc(admin(), 'revoke', { nameOrId: 'x' });
    const revoked = await rpc<{ valid: boolean; reason: string; token?: unknown }>(gateway(), 'verify', { secret: gen.secret });
    assert.deepEqual([revoked.valid, revoked.reason, revoked.token], [false, 'revoked', undefined]);
    const bad = await rpc<{ valid: boolean; reason: string }>(gateway(), 'verify', { secret: 'loki_nope' });
    assert.deepEqual([bad.valid, bad.reason], [false, 'malformed']);
  });

  it('lets a gateway caller with an admin credential manage tokens, owned by the verified subject', async () => {
    const alice = await mint('alice-admin', 'admin');
    const as = gw(alice, { subject: 'oidc:ceo@example.com' });
    const gen = await rpc<{ token: { owner: string; name: string } }>(gateway(), 'generate', { name: 'remote', scopes: [], role: 'viewer', expiresDays: 0 }, as);
    assert.equal(gen.token.owner, 'token:alice-admin', 'the owner is the verified subject, not the forwarded one');
    const list = await rpc<{ tokens: { name: string }[] }>(gateway(), 'list', { all: false }, as);
    assert.deepEqual(list.tokens.map((t) => t.name), ['alice-admin', 'remote']);
    await rpc(gateway(), 'revoke', { nameOrId: 'remote' }, as);
    const ok = events.filter((e) => e.result === 'success').map((e) => [e.action, e.user, e.ip, e.request_id]);
    assert.deepEqual(ok, [
      ['token.generate', 'token:alice-admin', '203.0.113.7', 'req-1'],
      ['token.revoke', 'token:alice-admin', '203.0.113.7', 'req-1'],
    ]);
  });

  it('denies token management to a gateway caller without *, and audits the denial', async () => {
    const ops = await mint('ops', 'operator');
    await rejectsWith(rpc(gateway(), 'generate', { name: 'sneaky', scopes: [], role: 'admin', expiresDays: 0 }, gw(ops)), status.PERMISSION_DENIED, 'permission_denied');
    await rejectsWith(rpc(gateway(), 'list', { all: true }, gw(ops)), status.PERMISSION_DENIED, 'permission_denied');
    assert.equal((await f.store.list({ all: true })).length, 1);
    assert.deepEqual(
      events.map((e) => [e.action, e.result, e.user, e.resource]),
      [['token.generate', 'denied', 'token:ops', 'token:sneaky']],
    );
    assert.match(events[0]!.reason ?? '', /"\*" scope/);
  });

  it('refuses forged subject and scopes without a credential: UNAUTHENTICATED, nothing minted', async () => {
    const forged = gw(undefined, { subject: 'oidc:ceo@example.com', scopes: '*' });
    await rejectsWith(rpc(gateway(), 'generate', { name: 'forever', scopes: ['*'], role: '', expiresDays: 0 }, forged), status.UNAUTHENTICATED, 'unauthenticated');
    await rejectsWith(rpc(gateway(), 'list', { all: true }, forged), status.UNAUTHENTICATED, 'unauthenticated');
    await rejectsWith(rpc(gateway(), 'revoke', { nameOrId: 'x' }, forged), status.UNAUTHENTICATED, 'unauthenticated');
    await rejectsWith(rpc(gateway(), 'list', { all: true }, gw('loki_' + 'A'.repeat(40), { scopes: '*' })), status.UNAUTHENTICATED, 'unauthenticated');
    assert.equal((await f.store.list({ all: true })).length, 0);
  });

  it('gives a viewer credential viewer rights even with forged scopes "*"', async () => {
    const viewer = await mint('viewer', 'viewer');
    const forged = gw(viewer, { subject: 'oidc:ceo@example.com', scopes: '*' });
    await rejectsWith(rpc(gateway(), 'generate', { name: 'forever', scopes: ['*'], role: '', expiresDays: 0 }, forged), status.PERMISSION_DENIED, 'permission_denied');
    await rejectsWith(rpc(gateway(), 'list', { all: true }, forged), status.PERMISSION_DENIED, 'permission_denied');
    assert.deepEqual(events.map((e) => e.user), ['token:viewer']);
  });

  it('refuses a revoked or expired credential at once (no cache window in the daemon)', async () => {
    const admin1 = await mint('short', 'admin');
    await rpc(gateway(), 'list', { all: true }, gw(admin1));
    await f.store.revoke('short');
    await rejectsWith(rpc(gateway(), 'list', { all: true }, gw(admin1)), status.UNAUTHENTICATED, 'unauthenticated');
  });

  it('is not reachable from the agent socket at all', async () => {
    const err = await rpc(doors.get('agent')!.client, 'verify', { secret: 'loki_x' }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    assert.ok(err, 'the agent door must refuse Verify');
    assert.equal(err.code, status.UNIMPLEMENTED);
  });

  it('refuses Verify to the agent role even if the module were mounted on an agent listener by mistake', async () => {
    const gen = await rpc<{ secret: string }>(admin(), 'generate', { name: 'x', scopes: [], role: '', expiresDays: 0 });
    const server = new Server();
    createTokenModule({ store: f.store, audit: { record: async () => {} } }).register(server, {
      log: f.log,
      listener: { role: 'agent', sessionId: 's1' },
    });
    const sock = join(f.home, 'misplaced.sock');
    await listen(server, `unix:${sock}`);
    const client = new TokenServiceClient(`unix:${sock}`, credentials.createInsecure());
    try {
      await rejectsWith(rpc(client, 'verify', { secret: gen.secret }), status.PERMISSION_DENIED, 'permission_denied');
      await rejectsWith(rpc(client, 'list', { all: true }), status.PERMISSION_DENIED, 'permission_denied');
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it('returns invalid_argument and token_not_found for client mistakes, auditing them as errors', async () => {
    await rejectsWith(rpc(admin(), 'generate', { name: 'x', scopes: ['root'], role: '', expiresDays: 0 }), status.INVALID_ARGUMENT, 'invalid_argument');
    await rejectsWith(rpc(admin(), 'revoke', { nameOrId: 'ghost' }), status.NOT_FOUND, 'token_not_found');
    assert.deepEqual(
      events.map((e) => [e.action, e.result]),
      [
        ['token.generate', 'error'],
        ['token.revoke', 'error'],
      ],
    );
  });

  it('returns resource_exhausted past max_active_per_user', async () => {
    for (let i = 0; i < 10; i++) await rpc(admin(), 'generate', { name: `t${i}`, scopes: [], role: '', expiresDays: 0 });
    await rejectsWith(rpc(admin(), 'generate', { name: 't10', scopes: [], role: '', expiresDays: 0 }), status.RESOURCE_EXHAUSTED, 'token_limit_reached');
  });

  it('answers concurrent Generate calls for one name with one token and conflicts, each audited', async () => {
    const calls = Array.from({ length: 6 }, () => rpc<{ token: { id: string } }>(admin(), 'generate', { name: 'race', scopes: [], role: '', expiresDays: 0 }));
    const results = await Promise.allSettled(calls);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      await rejectsWith(Promise.reject(r.reason as Error), status.FAILED_PRECONDITION, 'token_name_in_use');
      assert.match((r.reason as ServiceError).details, /a token named "race" already exists/);
    }
    assert.equal((await f.store.list()).length, 1);
    assert.deepEqual(events.map((e) => e.result).sort(), ['error', 'error', 'error', 'error', 'error', 'success']);
  });

  it('never puts a secret or its hash in an audit event or a log line', async () => {
    const gen = await rpc<{ secret: string }>(admin(), 'generate', { name: 'quiet', scopes: [], role: '', expiresDays: 0 });
    await rpc(gateway(), 'verify', { secret: gen.secret });
    await rpc(admin(), 'revoke', { nameOrId: 'quiet' });
    const hashHex = (f.db.prepare('SELECT hex(hash) AS h FROM tokens').get() as { h: string }).h;
    const everything = JSON.stringify(events) + f.logLines.join('');
    assert.ok(events.length >= 2);
    for (const needle of [gen.secret, gen.secret.slice(5, 25), hashHex, hashHex.toLowerCase(), Buffer.from(hashHex, 'hex').toString('base64')]) {
      assert.equal(everything.includes(needle), false);
    }
  });
});
