import { VERSION } from '../../../common/src/index.js';
import { SystemServiceService, type GetStatusResponse } from '../../../proto/gen/loki/v1/system.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { SandboxDriver, SandboxState } from '../sandbox/types.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { ServiceModule } from '../grpc/module.js';
import { unary } from '../grpc/wrap.js';

export interface SystemModuleDeps {
  driver: SandboxDriver;
  manager: SandboxManager;
  baseImage: string;
  /** sandbox.runtime from the daemon config (runc | runsc). */
  runtime: string;
  startedAtMs: number;
  /** How long a Docker snapshot is served as fresh (default 1000 ms). */
  statusTtlMs?: number;
  /** How long a stale snapshot may still be served while a refresh runs in the background (default 10 s). */
  statusMaxStaleMs?: number;
  now?: () => number;
  /** The warm pool's state (sandbox.pool), when configured. */
  pool?: () => { size: number; ready: number; disabled: string };
}

/** What GetStatus needs from Docker, for every caller at once (each caller sees its own filter of it). */
export interface DockerSnapshot {
  reachable: boolean;
  version: string;
  imagePresent: boolean;
  /** OCI runtimes the engine has registered. */
  runtimes: string[];
  sandboxes: { owner: string; state: SandboxState }[];
  takenAtMs: number;
}

/**
 * GetStatus must not cost Docker three calls per request (a status poller at 50
 * connections made dockerd the bottleneck). One snapshot serves every caller; it is
 * refreshed at most once per TTL, by a single call shared by everyone who asks while
 * it runs, and a slightly stale snapshot is served while the refresh runs in the
 * background so the request path never waits on Docker once warm.
 */
export class DockerStatusCache {
  private snapshot: DockerSnapshot | undefined;
  private refreshing: Promise<DockerSnapshot> | undefined;
  private readonly ttl: number;
  private readonly maxStale: number;
  private readonly now: () => number;
  /** Docker round trips made (tests and the bench read it). */
  refreshes = 0;

  constructor(private readonly deps: { driver: SandboxDriver; baseImage: string; ttlMs?: number; maxStaleMs?: number; now?: () => number }) {
    this.ttl = deps.ttlMs ?? 1000;
    this.maxStale = this.ttl === 0 ? 0 : Math.max(this.ttl, deps.maxStaleMs ?? 10_000);
    this.now = deps.now ?? Date.now;
  }

  async get(): Promise<DockerSnapshot> {
    if (this.ttl === 0) return this.load();
    const s = this.snapshot;
    const age = s ? this.now() - s.takenAtMs : Infinity;
    if (s && age < this.ttl) return s;
    const next = this.refresh();
    if (s && age < this.maxStale) {
      next.catch(() => {});
      return s;
    }
    return next;
  }

  /** Drops the snapshot (a sandbox started or stopped and the caller wants it seen at once). */
  invalidate(): void {
    this.snapshot = undefined;
  }

  private refresh(): Promise<DockerSnapshot> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async load(): Promise<DockerSnapshot> {
    this.refreshes++;
    const snap: DockerSnapshot = { reachable: false, version: '', imagePresent: false, runtimes: [], sandboxes: [], takenAtMs: this.now() };
    try {
      const engine = await this.deps.driver.info();
      snap.version = engine.version;
      snap.runtimes = Object.keys(engine.runtimes);
      snap.reachable = true;
      const [present, rows] = await Promise.all([this.deps.driver.imageExists(this.deps.baseImage), this.deps.driver.list()]);
      snap.imagePresent = present;
      snap.sandboxes = rows.map((r) => ({ owner: r.owner, state: r.state }));
    } catch {
      // Docker down (or answering badly): report it unreachable, with nothing counted.
      snap.reachable = false;
      snap.imagePresent = false;
      snap.runtimes = [];
      snap.sandboxes = [];
    }
    this.snapshot = snap;
    return snap;
  }
}

function countFor(caller: Caller, snap: DockerSnapshot): { running: number; paused: number; exited: number; total: number } {
  const counts = { running: 0, paused: 0, exited: 0, total: 0 };
  for (const s of snap.sandboxes) {
    if (!canAccessOwned(caller, s.owner)) continue;
    counts.total++;
    if (s.state === 'running') counts.running++;
    else if (s.state === 'paused') counts.paused++;
    else counts.exited++;
  }
  return counts;
}

export function createSystemModule(deps: SystemModuleDeps): ServiceModule {
  const cache = new DockerStatusCache({
    driver: deps.driver,
    baseImage: deps.baseImage,
    ...(deps.statusTtlMs !== undefined ? { ttlMs: deps.statusTtlMs } : {}),
    ...(deps.statusMaxStaleMs !== undefined ? { maxStaleMs: deps.statusMaxStaleMs } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  return {
    name: 'loki.v1.SystemService',
    roles: ['local-admin', 'gateway'],
    register(server, ctx) {
      server.addService(SystemServiceService, {
        getStatus: unary(ctx, 'System.GetStatus', async (_req, caller): Promise<GetStatusResponse> => {
          requireScope(caller, 'read');
          const snap = await cache.get();
          const now = Date.now();
          return {
            version: VERSION,
            startedAtMs: deps.startedAtMs,
            uptimeSeconds: (now - deps.startedAtMs) / 1000,
            dockerReachable: snap.reachable,
            dockerVersion: snap.version,
            baseImagePresent: snap.imagePresent,
            baseImage: deps.baseImage,
            sandboxes: countFor(caller, snap),
            callerRole: caller.role,
            callerSubject: caller.subject,
            sandboxRuntime: deps.runtime,
            sandboxRuntimeRegistered: snap.runtimes.includes(deps.runtime),
            sandboxDriver: deps.driver.capabilities.name,
            sandboxDriverReachable: snap.reachable,
            sandboxDriverVersion: snap.version,
            sandboxDriverCanPause: deps.driver.capabilities.pause,
            sandboxPool: deps.pool?.() ?? { size: 0, ready: 0, disabled: '' },
          };
        }),
      });
    },
  };
}
