// The SSE hub (gateway/src/routes/session-hub.ts) end to end: real gateway over
// real HTTP, real daemon with real sandboxes, real tokens. The daemon client is
// the real one, wrapped only to record which event streams the gateway opens
// (with whose credential) and cancels.
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createDaemonClient, type CallIdentity, type DaemonClient } from '../../client/src/grpc/index.js';
import { sessionRouteGroups } from '../../gateway/src/routes/control.js';
import type { SessionHubs } from '../../gateway/src/routes/session-hub.js';
import { agentSocket, makeRepo, removeDir, StandInRunner, startSessionDaemon, until, type SessionDaemon } from '../daemon/sessions/helpers.js';
import { bearer, buildTestGateway, generateToken, revokeToken, type TestGateway } from './helpers.js';
import { readSse, type SseMessage } from './sse-client.js';

interface Opened {
  follow: boolean;
  afterSeq: number;
  credential: string | undefined;
  cancelled: boolean;
}

/** A follower that keeps reading until `stop()`; `events` fills as frames arrive. */
const followers: { stop: () => void }[] = [];

function follow(port: number, path: string, headers: Record<string, string>): { events: SseMessage[]; stop: () => void; done: ReturnType<typeof readSse> } {
  let stopped = false;
  followers.push({ stop: () => (stopped = true) });
  const events: SseMessage[] = [];
  const done = readSse(
    port,
    path,
    headers,
    (ev) => {
      events.splice(0, events.length, ...ev);
      return stopped;
    },
    90_000,
  );
  return { events, stop: () => (stopped = true), done };
}

const messages = (ev: SseMessage[], tag: string) => ev.filter((e) => e.event === 'message' && (e.data as { message: string }).message.startsWith(tag)).map((e) => (e.data as { message: string }).message);

describe('SSE hub: one daemon stream per followed session', function () {
  this.timeout(180_000);
  let sd: SessionDaemon;
  let gw: TestGateway;
  let client: DaemonClient;
  let hubs: SessionHubs;
  let repo: string;
  let port: number;
  let sessionId: string;
  let runner: StandInRunner;
  const opened: Opened[] = [];
  const tok: Record<string, string> = {};
  const path = () => `/api/sessions/${sessionId}/events`;
  const say = (tag: string, n: number, pad = 0) => runner.report(Array.from({ length: n }, (_, i) => ({ type: 'message', message: `${tag} ${i}${'x'.repeat(pad)}` })));

  before(async function () {
    repo = makeRepo();
    sd = await startSessionDaemon({ overrides: { git: { shared_projects: ['demo'] } } });
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
    for (const [name, role] of [['alice', 'operator'], ['admin', 'admin'], ['bob', 'operator']] as const) tok[name] = (await generateToken(sd.d.paths.adminSocket, { name, role })).secret;
    client = createDaemonClient({ socketPath: sd.d.paths.gatewaySocket, timeoutMs: 5000 });
    const spied: DaemonClient = {
      ...client,
      sessions: {
        ...client.sessions,
        events(q, id: CallIdentity, h) {
          const rec: Opened = { follow: q.follow, afterSeq: q.afterSeq, credential: id.credential, cancelled: false };
          opened.push(rec);
          const s = client.sessions.events(q, id, h);
          return { ...s, cancel: () => ((rec.cancelled = true), s.cancel()) };
        },
      },
    };
    gw = await buildTestGateway({
      socket: sd.d.paths.gatewaySocket,
      raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } },
      deps: { routes: sessionRouteGroups(spied, { heartbeatMs: 200, slowClientMs: 60_000, hub: { ringSize: 8, maxBufferedBytes: 1024 * 1024 }, onHubs: (h) => (hubs = h) }) },
    });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    port = (gw.app.server.address() as AddressInfo).port;
    const started = await gw.app.inject({ method: 'POST', url: '/api/control/start', headers: { ...bearer(tok.alice!), 'content-type': 'application/json' }, payload: JSON.stringify({ prompt: 'hub', provider: 'script', plan: [{ run: 'true' }], project: 'demo', sandbox: true }) });
    assert.equal(started.statusCode, 201, started.body);
    sessionId = started.json<{ id: string }>().id;
    runner = new StandInRunner(agentSocket(sd.d, sessionId));
    await runner.hello();
  });

  after(async function () {
    runner?.close();
    await gw?.close();
    client?.close();
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  afterEach(async () => {
    for (const f of followers.splice(0)) f.stop();
    await say('wake', 1); // a frame so every reader notices stop()
    await until('every hub to close', () => hubs.stats().sessions === 0);
    opened.length = 0;
  });

  it('shares one upstream among followers and refuses a caller who may not see the session, even while the hub is open', async () => {
    const a = follow(port, path(), bearer(tok.alice!));
    const b = follow(port, path(), bearer(tok.admin!));
    await until('both followers in the hub', () => hubs.stats().subscribers === 2);
    // Bob (another operator, not the owner) gets a 404 and no event, with alice's hub open.
    const bobs = await readSse(port, path(), bearer(tok.bob!), () => false, 5000);
    assert.equal(bobs.status, 404);
    assert.deepEqual(bobs.events, []);
    assert.doesNotMatch(bobs.raw, /"type":"message"/);
    const bobFollow = await readSse(port, `${path()}?after=0`, { ...bearer(tok.bob!), 'last-event-id': '1' }, () => false, 5000);
    assert.equal(bobFollow.status, 404);
    assert.equal(hubs.stats().subscribers, 2);

    await say('shared', 5);
    await until('both followers to see 5 events', () => messages(a.events, 'shared').length === 5 && messages(b.events, 'shared').length === 5);
    assert.equal(opened.filter((o) => o.follow).length, 1, 'one followed daemon stream for two followers');
    a.stop();
    b.stop();
    await Promise.all([a.done, b.done]);
  });

  it('resumes with Last-Event-ID from the hub and, older than the hub holds, through the caller\'s own stream', async () => {
    const live = follow(port, path(), bearer(tok.alice!));
    await until('the hub', () => hubs.stats().subscribers === 1);
    await say('resume', 20);
    await until('20 live events', () => messages(live.events, 'resume').length === 20);
    const ids = live.events.filter((e) => e.event === 'message' && (e.data as { message: string }).message.startsWith('resume')).map((e) => Number(e.id));
    const last = ids[ids.length - 1]!;

    // Within the ring (8 frames): served from the hub, no new daemon stream.
    const before = opened.length;
    const near = follow(port, path(), { ...bearer(tok.alice!), 'last-event-id': String(last - 3) });
    await until('3 replayed events', () => near.events.filter((e) => e.event === 'message').length === 3);
    assert.deepEqual(near.events.filter((e) => e.event === 'message').map((e) => Number(e.id)), ids.slice(-3));
    assert.equal(opened.length, before);

    // Older than the ring: the caller's own non-follow stream, with its own credential, then live.
    const far = follow(port, path(), { ...bearer(tok.alice!), 'last-event-id': String(ids[0]! - 1) });
    await until('the catch-up', () => messages(far.events, 'resume').length === 20);
    const catchUp = opened.slice(before).find((o) => !o.follow);
    assert.ok(catchUp, 'a catch-up stream');
    assert.equal(catchUp.credential, tok.alice);
    await say('after', 3);
    await until('live events after the catch-up', () => messages(far.events, 'after').length === 3 && messages(near.events, 'after').length === 3);
    const farIds = far.events.filter((e) => e.event === 'message' && Number(e.id) >= ids[0]!).map((e) => Number(e.id));
    assert.deepEqual(farIds, [...new Set(farIds)].sort((x, y) => x - y), 'in order, no duplicates');
    assert.equal(farIds.length, 23);
    for (const f of [live, near, far]) f.stop();
    await Promise.all([live.done, near.done, far.done]);
  });

  it('still delivers every event to a later follower when the first one resumed from beyond the session\'s end', async () => {
    const probe = follow(port, path(), bearer(tok.alice!));
    await until('the hub', () => hubs.stats().subscribers === 1);
    await say('probe', 1);
    await until('the probe event', () => messages(probe.events, 'probe').length === 1);
    const end = Math.max(...probe.events.filter((e) => e.event === 'message').map((e) => Number(e.id)));
    probe.stop();
    await say('wake', 1);
    await until('the hub to close', () => hubs.stats().sessions === 0);

    // The hub now starts at a Last-Event-ID 50 events in the future...
    const ahead = follow(port, path(), { ...bearer(tok.alice!), 'last-event-id': String(end + 50) });
    await until('the hub', () => hubs.stats().subscribers === 1);
    // ...and a follower resuming from the real end joins it.
    const behind = follow(port, path(), { ...bearer(tok.alice!), 'last-event-id': String(end + 1) });
    await until('both in the hub', () => hubs.stats().subscribers === 2);
    await say('gap', 10);
    await until('the later follower to see all 10 events', () => messages(behind.events, 'gap').length === 10);
    await say('beyond', 60);
    await until('both to see the events beyond the future id', () => messages(behind.events, 'beyond').length === 60 && messages(ahead.events, 'beyond').length > 0);
    const ids = behind.events.filter((e) => e.event === 'message' && Number(e.id) > end + 1).map((e) => Number(e.id));
    assert.deepEqual(ids, Array.from({ length: ids.length }, (_, i) => end + 2 + i), 'every event once, in order');
    assert.ok(ahead.events.filter((e) => e.event === 'message').every((e) => Number(e.id) > end + 50), 'the first follower gets only what it asked for');
    ahead.stop();
    behind.stop();
    await Promise.all([ahead.done, behind.done]);
  });

  it('drops a follower that does not read without delaying the others', async () => {
    // An HTTP follower that never reads its socket (the kernel's socket buffers absorb megabytes)...
    const slowReq: ClientRequest = request({ host: '127.0.0.1', port, path: path(), headers: bearer(tok.alice!), agent: false }, (res) => res.socket.pause());
    slowReq.on('error', () => undefined);
    slowReq.end();
    followers.push({ stop: () => slowReq.destroy() });
    // ...and one whose output nobody reads at all, joined through the hub as the route does, so it hits the 1 MiB cap.
    const stuck = new PassThrough({ highWaterMark: 64 * 1024 });
    hubs.subscribe(sessionId, 0, { requestId: 'stuck', credential: tok.alice! }, stuck);
    const fast = follow(port, path(), bearer(tok.admin!));
    await until('three followers', () => hubs.stats().subscribers === 3);
    await say('ready3', 1);
    await until('the fast follower to be live', () => messages(fast.events, 'ready3').length === 1);
    // 400 events of ~4 KiB (the daemon caps a message at 4096 characters).
    for (let i = 0; i < 40; i++) await say(`flood${i}`, 10, 5000);
    await until('the fast follower to get all 400 events', () => messages(fast.events, 'flood').length === 400, 60_000);
    await until('the stuck follower to be dropped', () => stuck.destroyed && hubs.stats().subscribers === 2);
    fast.stop();
    await fast.done;
  });

  it('reopens the upstream with a remaining follower\'s credential when its holder leaves, and closes it with the last one', async () => {
    const first = follow(port, path(), bearer(tok.alice!));
    await until('the hub', () => hubs.stats().subscribers === 1);
    await say('ready4', 1);
    await until('the first follower to be live', () => messages(first.events, 'ready4').length === 1);
    const second = follow(port, path(), bearer(tok.admin!));
    await until('two followers', () => hubs.stats().subscribers === 2);
    assert.deepEqual(opened.filter((o) => o.follow).map((o) => o.credential), [tok.alice]);

    first.stop();
    await say('handover', 1); // wakes the reader so it notices stop()
    await first.done;
    await until('the holder to leave', () => hubs.stats().subscribers === 1);
    const up = opened.filter((o) => o.follow);
    assert.equal(up.length, 2);
    assert.ok(up[0]!.cancelled, "the departed holder's stream is cancelled");
    assert.equal(up[1]!.credential, tok.admin);
    await say('still', 2);
    await until('the remaining follower to keep receiving', () => messages(second.events, 'still').length === 2);

    second.stop();
    await second.done;
    await until('the hub to close', () => hubs.stats().sessions === 0);
    assert.ok(opened.filter((o) => o.follow).every((o) => o.cancelled), 'no upstream left open');
  });

  it('says goodbye to a follower whose token is revoked (an unauthenticated error event, then the end) and keeps the others', async () => {
    const watcher = await generateToken(sd.d.paths.adminSocket, { name: 'hub-watcher', role: 'admin' });
    // From the session's current end: no replay of the earlier tests' megabytes ahead of the goodbye.
    const now = (await gw.app.inject({ url: `/api/sessions/${sessionId}`, headers: bearer(tok.admin!) })).json<{ events_total: number }>().events_total;
    const from = { 'last-event-id': String(now) };
    const stays = follow(port, path(), { ...bearer(tok.admin!), ...from });
    await until('the hub', () => hubs.stats().subscribers === 1);
    const goes = follow(port, path(), { ...bearer(watcher.secret), ...from });
    await until('two followers', () => hubs.stats().subscribers === 2);
    await revokeToken(sd.d.paths.adminSocket, watcher.id);
    const read = await goes.done;
    const last = read.events[read.events.length - 1];
    assert.equal(last?.event, 'error', read.raw.slice(-300));
    assert.equal((last.data as { error: { code: string } }).error.code, 'unauthenticated');
    await until('the revoked follower to leave the hub', () => hubs.stats().subscribers === 1);
    await say('carry-on', 2);
    await until('the remaining follower to keep receiving', () => messages(stays.events, 'carry-on').length === 2);
    stays.stop();
    await stays.done;
  });
});
