// Under a flood the audit trail loses nothing and does not grow per request: a
// 429 flood from one token and an auth-failure flood from one address become a
// few counted entries whose counts add up to exactly what the gateway refused,
// with a deliberately tiny audit buffer so back-pressure (not dropping) is what
// keeps it whole. A bounded flood of 600 requests over real HTTP; the 30 s figure is a
// bench (bench/audit-flood.ts). Real daemon, real audit log.
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEntryInfo } from '../../../client/src/grpc/index.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from '../helpers.js';

async function counter(gw: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const m = gw.app.loki.metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const got = await m.get();
  return got.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

async function allEntries(gw: TestGateway, auditor: string, action: string): Promise<AuditEntryInfo[]> {
  const out: AuditEntryInfo[] = [];
  let cursor = 0;
  for (;;) {
    const page = await gw.daemon.queryAudit({ limit: 1000, action, cursor }, { requestId: 'q', credential: auditor });
    out.push(...page.entries);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

const counted = (e: AuditEntryInfo) => (typeof e.details.count === 'number' ? e.details.count : 1);

describe('The audit trail under a flood', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let gw: TestGateway;
  let port: number;
  let auth: Record<string, string>;
  let auditor: string;

  before(async () => {
    d = await startTestDaemon();
    // The daemon trusts no forwarded scopes: reading the trail takes a real auditor credential.
    auditor = (await generateToken(d.adminSocket, { name: 'auditor', role: 'auditor' })).secret;
    auth = bearer((await generateToken(d.adminSocket, { name: 'flooder', role: 'viewer' })).secret);
    gw = await buildTestGateway({
      socket: d.gatewaySocket,
      raw: { rate_limit: { per_minute: 20, burst: 20, concurrency: 1000 }, audit: { buffer_size: 4 } },
      deps: { routes: [{ plugin: async (a) => void a.get('/fast', { schema: {}, config: { access: { scope: 'read' } } }, async () => ({ ok: true })) }] },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
  });

  after(async () => {
    await gw?.close();
    await d?.close();
  });

  it('records a 429 flood as counted entries that add up to every rejection, dropping none', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    // A fixed number of requests (not a fixed time), so a slow machine floods just as hard.
    let left = 600;
    const statuses = new Map<number, number>();
    const one = () =>
      new Promise<void>((resolve) => {
        const r = request({ host: '127.0.0.1', port, path: '/fast', headers: auth, agent }, (res) => {
          statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          res.resume();
          res.on('end', resolve);
        });
        r.on('error', () => resolve());
        r.end();
      });
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (left-- > 0) await one();
    }));
    agent.destroy();
    await gw.app.loki.audit.idle();

    const rejected = statuses.get(429) ?? 0;
    assert.equal(rejected, 580, `all but the 20 allowed were refused: ${JSON.stringify([...statuses])}`);
    assert.equal(await counter(gw, 'loki_rate_limit_rejections_total', { scope: 'subject' }), rejected);
    const entries = (await allEntries(gw, auditor, 'rate_limit.reject')).filter((e) => e.user === 'token:flooder');
    assert.equal(entries.reduce((n, e) => n + counted(e), 0), rejected, 'the counts in the log add up to every 429 answered');
    assert.ok(entries.length <= 4, `a handful of entries, not one per request (got ${entries.length})`);
    assert.ok(entries.some((e) => e.details.aggregated === true && counted(e) > 1));
    assert.equal(await counter(gw, 'loki_audit_events_dropped_total', {}), 0);
  });

  it('records an auth-failure flood from one address (before and after its lockout) as counted entries, dropping none', async () => {
    const from = { remoteAddress: '192.0.2.30' };
    const n = 300;
    const attempt = (i: number) => gw.app.inject({ url: '/fast', headers: bearer('loki_' + 'Z'.repeat(40) + String(i).padStart(3, '0')), ...from }).then((r) => r.statusCode);
    // A few one after another (the lockout begins at the 5th), then the rest at once.
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push(await attempt(i));
    codes.push(...(await Promise.all(Array.from({ length: n - 10 }, (_, i) => attempt(10 + i)))));
    await gw.app.loki.audit.idle();
    assert.equal(codes.filter((c) => c === 401 || c === 429).length, n);
    // Each attempt is refused once: as a failed authentication, as locked out, or by the per-address rate limit.
    const mine = (e: AuditEntryInfo) => e.ip === '192.0.2.30' && e.resource === 'route:GET /fast';
    const entries = [...(await allEntries(gw, auditor, 'auth.fail')), ...(await allEntries(gw, auditor, 'rate_limit.reject'))].filter(mine);
    assert.equal(entries.reduce((s, e) => s + counted(e), 0), n, 'every refused attempt is accounted for');
    assert.ok(entries.some((e) => e.action === 'auth.fail' && e.reason === 'locked_out' && counted(e) > 1), JSON.stringify(entries));
    assert.ok(entries.length <= 8, `a handful of entries, not one per attempt (got ${entries.length})`);
    assert.equal(await counter(gw, 'loki_audit_events_dropped_total', {}), 0);
  });
});

describe('The audit trail while lokid bounds how fast the gateway may write it', function () {
  this.timeout(120_000);
  const RATE = 20;
  const N = 120;
  let d: TestDaemon;
  let gw: TestGateway;
  let auditor: string;

  before(async () => {
    // A bound the flood exceeds six times over (audit.gateway_records_per_second = 20, burst 20).
    d = await startTestDaemon({ audit: { gateway_records_per_second: RATE, gateway_records_burst: RATE } });
    auditor = (await generateToken(d.adminSocket, { name: 'auditor', role: 'auditor' })).secret;
    gw = await buildTestGateway({
      socket: d.gatewaySocket,
      raw: { audit: { buffer_size: 16 } },
      deps: { routes: [{ plugin: async (a) => void a.get('/fast', { schema: {}, config: { access: { scope: 'read' } } }, async () => ({ ok: true })) }] },
    });
  });

  after(async () => {
    await gw?.close();
    await d?.close();
  });

  it('loses nothing when lokid refuses its records as over the bound: each is retried until it is written', async () => {
    // Each attempt from its own address, so the gateway's per-address counting folds
    // none of them: every one is its own Record call (what a spread-out attack does).
    const address = (i: number) => `198.51.100.${i + 1}`;
    const codes = await Promise.all(
      Array.from({ length: N }, (_, i) => gw.app.inject({ url: '/fast', headers: bearer(`loki_${'Q'.repeat(40)}${String(i).padStart(3, '0')}`), remoteAddress: address(i) }).then((r) => r.statusCode)),
    );
    assert.deepEqual([...new Set(codes)], [401]);
    await gw.app.loki.audit.idle();
    assert.equal(await counter(gw, 'loki_audit_events_dropped_total', {}), 0);
    const mine = (await allEntries(gw, auditor, 'auth.fail')).filter((e) => e.resource === 'route:GET /fast' && e.ip.startsWith('198.51.100.'));
    assert.equal(mine.reduce((n, e) => n + counted(e), 0), N, 'every refused attempt is in the log');
    assert.equal(new Set(mine.map((e) => e.ip)).size, N, 'one entry per address');
    assert.ok((await counter(gw, 'loki_audit_events_throttled_total', {})) > 0, 'lokid never refused a record: the flood did not exceed the bound');
  });
});
