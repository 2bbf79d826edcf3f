// TokenService over real gRPC on unix sockets: one server per listener role,
// exactly as the daemon mounts modules, so the role really comes from the door.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import type { AuditEventInput, AuditLog } from '../../../daemon/src/audit/types.js';
import type { CallerRole } from '../../../daemon/src/grpc/caller.js';
import { createTokenModule } from '../../../daemon/src/tokens/service.js';
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
  const gw = (subject: string, scopes: string) => md({ 'x-loki-subject': subject, 'x-loki-scopes': scopes, 'x-loki-client-ip': '203.0.113.7', 'x-loki-request-id': 'req-1' });

  beforeEach(async () => {
    f = makeFixture();
    events = [];
    const audit: AuditLog = { record: async (e) => void events.push(e) };
    const mod = createTokenModule({ store: f.store, audit });
    for (const role of ['local-admin', 'gateway', 'agent'] as const) {
      const server = new Server();
      // The daemon registers a module only on the listeners its roles allow.
      if (mod.roles.includes(role)) mod.register(server, { log: f.log, listener: { role, sessionId: 's1', localUid: 1000 } });
      const sock = join(f.home, `${role}.sock`);
      await listen(server, `unix:${sock}`);
      doors.set(role, { server, client: new TokenServiceClient(`unix:${sock}`, credentials.createInsecure()) });
    }
  });

  afterEach(() => {
    for (const d of doors.values()) {
      d.client.close();
      d.server.forceShutdown();
    }
    doors.clear();
    f.cleanup();
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

  it('lets a gateway caller with * manage tokens, owned by the forwarded subject', async () => {
    const gen = await rpc<{ token: { owner: string; name: string } }>(
      gateway(),
      'generate',
      { name: 'remote', scopes: [], role: 'viewer', expiresDays: 0 },
      gw('oidc:alice', '*'),
    );
    assert.equal(gen.token.owner, 'oidc:alice');
    const list = await rpc<{ tokens: { name: string }[] }>(gateway(), 'list', { all: false }, gw('oidc:alice', '*'));
    assert.deepEqual(list.tokens.map((t) => t.name), ['remote']);
    await rpc(gateway(), 'revoke', { nameOrId: 'remote' }, gw('oidc:alice', '*'));
    const ok = events.filter((e) => e.result === 'success').map((e) => [e.action, e.user, e.ip, e.request_id]);
    assert.deepEqual(ok, [
      ['token.generate', 'oidc:alice', '203.0.113.7', 'req-1'],
      ['token.revoke', 'oidc:alice', '203.0.113.7', 'req-1'],
    ]);
  });

  it('denies token management to a gateway caller without *, and audits the denial', async () => {
    await rejectsWith(
      rpc(gateway(), 'generate', { name: 'sneaky', scopes: [], role: 'admin', expiresDays: 0 }, gw('token:ops', 'control,write,read')),
      status.PERMISSION_DENIED,
      'permission_denied',
    );
    await rejectsWith(rpc(gateway(), 'list', { all: true }, gw('token:ops', 'control')), status.PERMISSION_DENIED, 'permission_denied');
    await rejectsWith(rpc(gateway(), 'generate', { name: 'anon', scopes: [], role: '', expiresDays: 0 }), status.PERMISSION_DENIED, 'permission_denied');
    assert.equal(f.store.list({ all: true }).length, 0);
    assert.deepEqual(
      events.map((e) => [e.action, e.result, e.user, e.resource]),
      [
        ['token.generate', 'denied', 'token:ops', 'token:sneaky'],
        ['token.generate', 'denied', 'anonymous', 'token:anon'],
      ],
    );
    assert.match(events[0]!.reason ?? '', /"\*" scope/);
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
