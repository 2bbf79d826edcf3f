// Docker going away and coming back (RUNBOOK "docker_unavailable"): lokid talks
// to the real engine through a real unix-socket relay (config docker.socket)
// that the test closes and reopens, so dockerd itself keeps running for
// everyone else. While the engine cannot be asked, a running session is not
// taken for one whose container died: it stays running, and is still
// supervised once the engine answers again.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StartSessionInput } from '../../../daemon/src/sessions/types.js';
import { shortTempDir } from '../../helpers/entry.js';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, until, type SessionDaemon } from './helpers.js';

const ENGINE = process.env.LOKI_DOCKER_SOCKET || '/var/run/docker.sock';

function input(over: Partial<StartSessionInput>): StartSessionInput {
  return { prd: '', prompt: 'count', provider: 'script', plan: '[{"run": "true"}]', profile: '', autonomy: '', project: '', projectPath: '', model: '', baseUrl: '', maxIterations: 0, network: false, ...over };
}

/** A unix socket that forwards every connection to the Docker engine, until it is taken down. */
class EngineRelay {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  constructor(readonly path: string) {}

  async up(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((c) => {
      const e = connect(ENGINE);
      this.open.add(c).add(e);
      const end = () => {
        c.destroy();
        e.destroy();
        this.open.delete(c);
        this.open.delete(e);
      };
      c.on('error', end).on('close', end);
      e.on('error', end).on('close', end);
      c.pipe(e).pipe(c);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.path, () => resolve()));
    this.server = server;
  }

  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const c of this.open) c.destroy();
    this.open.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

describe('sessions while Docker is away', function () {
  this.timeout(120_000);
  let sd: SessionDaemon;
  let repo: string;
  let dir: string;
  let relay: EngineRelay;

  beforeEach(async function () {
    repo = makeRepo();
    dir = shortTempDir('lkdock');
    relay = new EngineRelay(join(dir, 'docker.sock'));
    await relay.up();
    sd = await startSessionDaemon({ overrides: { docker: { socket: relay.path } } });
  });

  afterEach(async function () {
    await relay.up().catch(() => undefined);
    await sd.cleanup();
    await relay.down();
    removeDir(repo);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a running session running while the engine cannot be reached, and still notices its container die afterwards', async function () {
    const m = sd.feature.manager;
    const s = await m.start(ADMIN, input({ projectPath: repo }));
    assert.equal(s.state, 'running');

    await relay.down();
    // Many supervisor checks (every 200 ms here) while the engine cannot be asked.
    await new Promise((r) => setTimeout(r, 2500));
    const during = await m.get(ADMIN, s.id);
    assert.equal(during.state, 'running', `a session is not ended because Docker could not be asked: ${during.reason}`);

    await relay.up();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await m.get(ADMIN, s.id)).state, 'running');
    assert.equal((await sd.driver.get(s.sandboxId))?.state, 'running', 'its container ran on all along');

    // The engine answers again, so a container that really dies is still noticed.
    await promisify(execFile)('docker', ['kill', `loki-${s.sandboxId}`]);
    const failed = await until('failed', async () => {
      const x = await m.get(ADMIN, s.id);
      return x.state === 'failed' ? x : undefined;
    }, 20_000);
    assert.match(failed.reason, /exited/);
  });

  it('re-attaches a session once the engine is back when lokid restarted while it was away', async function () {
    const s = await sd.feature.manager.start(ADMIN, input({ projectPath: repo }));
    const home = sd.d.home;
    await sd.d.close(); // like a crash: the container runs on
    await relay.down();
    sd = await startSessionDaemon({ home, overrides: { docker: { socket: relay.path } } });
    const m = sd.feature.manager;
    await new Promise((r) => setTimeout(r, 1500));
    const during = await m.get(ADMIN, s.id);
    assert.equal(during.state, 'running', `not failed for want of an answer from Docker: ${during.reason}`);

    await relay.up();
    const events = async () => {
      const out: string[] = [];
      for await (const e of m.events(ADMIN, { sessionId: s.id, afterSeq: 0, afterGid: 0, follow: false }, new AbortController().signal)) out.push(e.type);
      return out;
    };
    await until('re-attached', async () => (await events()).includes('reattached'), 15_000);
    assert.equal((await m.get(ADMIN, s.id)).state, 'running');
    assert.equal((await sd.driver.get(s.sandboxId))?.state, 'running');
  });
});
