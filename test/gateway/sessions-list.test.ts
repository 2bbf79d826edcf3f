// GET /api/sessions pages through a real gateway and a real lokid: a default
// page of 100 with next_page_token, every session exactly once when the token is
// followed, only the caller's own sessions for a non-admin, and a 400 that names
// the field for a bad limit or page_token.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/src/daemon.js';
import { openSqliteStore } from '../../daemon/src/store/sqlite/index.js';
import { createDaemonClient } from '../../client/src/grpc/index.js';
import { SessionServiceClient } from '../../proto/gen/loki/v1/sessions.js';
import { sessionRow } from '../daemon/store/helpers.js';
import { clientFor, unaryCall } from '../helpers/daemon.js';
import { bearer, buildTestGateway, generateToken, tempDir, type TestGateway } from './helpers.js';

const N = 230;

const row = sessionRow;

describe('GET /api/sessions pages', function () {
  this.timeout(120_000);
  let home: { dir: string; cleanup: () => void };
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  let gw: TestGateway;
  let admin: Record<string, string>;
  let viewer: Record<string, string>;
  let viewerSecret: string;

  before(async () => {
    home = tempDir('loki-gwp-');
    // Seed through the repository before lokid opens the same database.
    const store = openSqliteStore(join(home.dir, 'state', 'loki.db'));
    for (let i = 1; i <= N; i++) {
      store.sessions.rows.insert(row(i, i % 10 === 0 ? 'token:viewer' : 'token:someone'));
      // Ended sessions: the active list stays empty so the daemon starts no supervision work.
      store.sessions.rows.transition(row(i, '').id, ['pending'], 'completed', 'done');
    }
    store.close();
    daemon = await startDaemon({ home: home.dir, env: { LOKI_HOME: home.dir }, logLevel: 'silent' });
    admin = bearer((await generateToken(daemon.paths.adminSocket, { name: 'admin', role: 'admin' })).secret);
    viewerSecret = (await generateToken(daemon.paths.adminSocket, { name: 'viewer', role: 'viewer' })).secret;
    viewer = bearer(viewerSecret);
    gw = await buildTestGateway({
      socket: daemon.paths.gatewaySocket,
      raw: { rate_limit: { per_minute: 1_000_000, burst: 1_000_000, unauthenticated_per_minute: 1_000_000, lockout_failures: 1_000_000 } },
    });
  });

  after(async () => {
    await gw?.close();
    await daemon?.close();
    home?.cleanup();
  });

  async function page(q: string, headers = admin): Promise<{ sessions: { id: string; owner: string }[]; next_page_token: string | null }> {
    const r = await gw.app.inject({ url: `/api/sessions${q}`, headers });
    assert.equal(r.statusCode, 200, r.body);
    return r.json();
  }

  it('answers a first page of 100 with a token, and every session once when the token is followed', async () => {
    const first = await page('?all=true');
    assert.equal(first.sessions.length, 100);
    assert.ok(first.next_page_token);
    const ids = [...first.sessions.map((s) => s.id)];
    let token: string | null = first.next_page_token;
    while (token) {
      const p = await page(`?all=true&limit=100&page_token=${token}`);
      ids.push(...p.sessions.map((s) => s.id));
      token = p.next_page_token;
    }
    assert.deepEqual(ids, Array.from({ length: N }, (_, i) => row(i + 1, '').id));
  });

  it('keeps the active-only default: ended sessions are not listed without all', async () => {
    assert.deepEqual(await page(''), { sessions: [], next_page_token: null });
  });

  it('pages only the caller’s own sessions for a viewer', async () => {
    const ids: string[] = [];
    let token: string | null = '';
    do {
      const p = await page(`?all=true&limit=7${token ? `&page_token=${token}` : ''}`, viewer);
      assert.ok(p.sessions.every((s) => s.owner === 'token:viewer'));
      ids.push(...p.sessions.map((s) => s.id));
      token = p.next_page_token;
    } while (token);
    assert.equal(ids.length, N / 10);
  });

  it('lists through DaemonClient.listSessions exactly what a caller-bound LokiClient lists, and the daemon still refuses a credential it cannot verify', async () => {
    const dc = createDaemonClient({ socketPath: daemon.paths.gatewaySocket, timeoutMs: 10_000 });
    try {
      const id = { requestId: 'req-list', subject: 'token:viewer', credential: viewerSecret };
      for (const o of [{ all: true, limit: 7 }, { all: true, limit: 500 }, { all: false, limit: 100 }]) {
        const direct = await dc.listSessions(o, id);
        assert.deepEqual(direct, await dc.forCaller(id).sessions.listPage(o), JSON.stringify(o));
        assert.ok(direct.sessions.every((s) => s.owner === 'token:viewer'));
      }
      // The subject the gateway reports is never the identity: only the credential is.
      const claimed = await dc.listSessions({ all: true, limit: 500 }, { ...id, subject: 'token:someone' });
      assert.equal(claimed.sessions.length, N / 10);
      assert.ok(claimed.sessions.every((s) => s.owner === 'token:viewer'));
      await assert.rejects(dc.listSessions({ all: true, limit: 7 }, { ...id, credential: `${viewerSecret}x` }), (e: { code?: string }) => e.code === 'unauthenticated');
      await assert.rejects(dc.listSessions({ all: true, limit: 7 }, { requestId: 'req-none', subject: 'token:viewer' }), (e: { code?: string }) => e.code === 'unauthenticated');
    } finally {
      dc.close();
    }
  });

  it('answers 400 naming the field for a bad limit or page_token', async () => {
    const first = await page('?all=true&limit=5');
    const cases: [string, RegExp][] = [
      ['?limit=0', /limit/],
      ['?limit=501', /limit/],
      ['?limit=-1', /limit/],
      ['?limit=2.5', /limit/],
      ['?limit=ten', /limit/],
      ['?limit=Infinity', /limit/],
      ['?page_token=not%20a%20token', /page_token/],
      [`?page_token=${'A'.repeat(129)}`, /page_token/],
      ['?all=true&page_token=AAAA', /page_token/],
      [`?page_token=${first.next_page_token}`, /page_token/], // issued for all=true, used without
    ];
    for (const [q, name] of cases) {
      const r = await gw.app.inject({ url: `/api/sessions${q}`, headers: admin });
      assert.equal(r.statusCode, 400, `${q}: ${r.statusCode} ${r.body}`);
      const e = r.json().error;
      assert.equal(e.code, 'invalid_argument', q);
      assert.match(e.message, name, `${q}: ${e.message}`);
    }
  });

  it('keeps SessionService/List unpaged for page_size 0 (older clients) and refuses a bad page_size or a stray page_token', async () => {
    const c = clientFor(SessionServiceClient, daemon.paths.adminSocket);
    try {
      const list = c.list.bind(c);
      assert.equal((await unaryCall(list, { all: true, pageSize: 0, pageToken: '' })).sessions.length, N);
      for (const req of [
        { all: true, pageSize: 501, pageToken: '' },
        { all: true, pageSize: -1, pageToken: '' },
        { all: true, pageSize: 0, pageToken: 'AAAA' },
      ]) {
        await assert.rejects(unaryCall(list, req), (e: { code?: number; details?: string }) => e.code === 3 && /page_size|page_token/.test(e.details ?? ''), JSON.stringify(req));
      }
    } finally {
      c.close();
    }
  });
});
