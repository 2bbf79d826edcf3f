// A concurrency slot must come back however a request ends: the client aborts
// while it holds one, the client aborts while it is queued for one (and the slot
// is handed to it after the abort), the route throws. Real daemon, real token,
// real HTTP port; the "slow" route is held open by the test so the order of
// events is decided, not raced.
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LokiError } from '../../../common/src/index.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from '../helpers.js';

interface Sent {
  req: ClientRequest;
  done: Promise<number>;
}

function send(port: number, path: string, headers: Record<string, string>): Sent {
  let req!: ClientRequest;
  const done = new Promise<number>((resolve) => {
    req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
    req.end();
  });
  return { req, done };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function untilAsync(what: string, cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Concurrency slots under aborts and errors', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let gw: TestGateway;
  let port: number;
  let auth: Record<string, string>;
  let gate: { open: () => void; wait: Promise<void> };
  let arrived = 0;

  const newGate = () => {
    let open!: () => void;
    const wait = new Promise<void>((r) => (open = r));
    return { open, wait };
  };
  // Slots held right now plus requests queued for one (private state, read for the test only; one subject here).
  const slotState = () => {
    const slots = (gw.app.loki.limiter as unknown as { slots: Map<string, { active: number; waiters: unknown[] }> }).slots;
    let active = 0;
    let waiting = 0;
    for (const s of slots.values()) {
      active += s.active;
      waiting += s.waiters.length;
    }
    return { active, waiting };
  };

  before(async () => {
    d = await startTestDaemon();
    const tok = await generateToken(d.adminSocket, { name: 'flood', role: 'viewer' });
    auth = bearer(tok.secret);
    gate = newGate();
    gw = await buildTestGateway({
      socket: d.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, concurrency: 2, queue_ms: 10_000 } },
      deps: {
        routes: [
          {
            plugin: async (a) => {
              const schema = {};
              const config = { access: { scope: 'read' as const } };
              a.get('/slow', { schema, config }, async () => {
                arrived++;
                await gate.wait;
                return { ok: true };
              });
              a.get('/fast', { schema, config }, async () => ({ ok: true }));
              a.get('/boom', { schema, config }, async () => {
                throw new LokiError('internal', 'boom');
              });
            },
          },
        ],
      },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
    // Warm the token cache.
    assert.equal(await send(port, '/fast', auth).done, 200);
  });

  after(async () => {
    gate.open();
    await gw?.close();
    await d?.close();
  });

  it('returns a slot handed over to a queued request whose client had already gone', async () => {
    arrived = 0;
    gate = newGate();
    const holders = [send(port, '/slow', auth), send(port, '/slow', auth)];
    await until('both slots taken', () => arrived === 2);
    const queued = Array.from({ length: 4 }, () => send(port, '/slow', auth));
    await until('four requests queued', () => slotState().waiting === 4);
    for (const q of queued) q.req.destroy();
    await Promise.all(queued.map((q) => q.done));
    // Let the server see the aborts before the holders hand their slots on.
    await untilAsync('aborts observed', async () => (await gw.app.loki.metrics.inFlight.get()).values[0]?.value === 2);
    gate.open();
    assert.deepEqual(await Promise.all(holders.map((h) => h.done)), [200, 200]);
    await until('every slot returned', () => slotState().active === 0 && slotState().waiting === 0);
    // Both slots are usable again at once (queue_ms is 10 s: a leaked slot would show as a stall, then 503).
    assert.deepEqual(await Promise.all([send(port, '/fast', auth).done, send(port, '/fast', auth).done]), [200, 200]);
  });

  it('returns the slot of a request whose client aborts while it is being served', async () => {
    arrived = 0;
    gate = newGate();
    const held = [send(port, '/slow', auth), send(port, '/slow', auth)];
    await until('both slots taken', () => arrived === 2);
    for (const h of held) h.req.destroy();
    await Promise.all(held.map((h) => h.done));
    gate.open();
    await until('every slot returned', () => slotState().active === 0);
    assert.deepEqual(await Promise.all([send(port, '/fast', auth).done, send(port, '/fast', auth).done]), [200, 200]);
  });

  it('returns the slot of a request whose route fails', async () => {
    for (let i = 0; i < 5; i++) assert.equal(await send(port, '/boom', auth).done, 500);
    assert.equal(slotState().active, 0);
    assert.equal(await send(port, '/fast', auth).done, 200);
  });

  it('keeps answering a token after a burst of aborted requests far over its concurrency limit', async () => {
    arrived = 0;
    gate = newGate();
    const burst = Array.from({ length: 20 }, () => send(port, '/slow', auth));
    await until('slots taken and the rest queued', () => arrived === 2 && slotState().waiting >= 8);
    gate.open();
    for (const b of burst) b.req.destroy();
    await Promise.all(burst.map((b) => b.done));
    await until('every slot returned', () => slotState().active === 0 && slotState().waiting === 0);
    const after = await Promise.all(Array.from({ length: 6 }, () => send(port, '/fast', auth).done));
    assert.deepEqual(after, [200, 200, 200, 200, 200, 200]);
  });
});
