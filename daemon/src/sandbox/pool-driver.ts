// The driver everyone above the pool sees: unclaimed pool slots do not exist for
// any caller (no list, get, exec, stop, or claim by id — not even for a local
// admin), a claimed slot looks like the session's own sandbox (owner, session,
// project, name and workspace from its claim, as Docker labels cannot change
// after create), and removing a slot also unmounts and deletes its directories.
import type { SandboxPool } from './pool.js';
import { POOL_OWNER } from './pool.js';
import type {
  AgentChannelTransport,
  DriverCapabilities,
  DriverInfo,
  ExecOptions,
  ExecSession,
  ImageBuildEvent,
  ImageBuildRequest,
  ImageInfo,
  LogChunk,
  LogOptions,
  ResolvedHardening,
  RunnerBundle,
  RunnerTransport,
  SandboxCreateSpec,
  SandboxDriver,
  SandboxInfo,
} from './types.js';

export class PoolAwareDriver implements SandboxDriver {
  readonly capabilities: DriverCapabilities;

  constructor(
    private readonly base: SandboxDriver,
    private readonly pool: () => SandboxPool | undefined,
  ) {
    this.capabilities = base.capabilities;
  }

  info(): Promise<DriverInfo> {
    return this.base.info();
  }

  imageExists(image: string): Promise<boolean> {
    return this.base.imageExists(image);
  }

  imageInfo(image: string): Promise<ImageInfo | undefined> {
    return this.base.imageInfo(image);
  }

  buildImage(req: ImageBuildRequest, onEvent: (e: ImageBuildEvent) => void, signal: AbortSignal): Promise<{ imageId: string; reused: boolean }> {
    return this.base.buildImage(req, onEvent, signal);
  }

  agentChannelMount(sessionId: string, hostDir: string): AgentChannelTransport {
    return this.base.agentChannelMount(sessionId, hostDir);
  }

  runnerTransport(bundle: RunnerBundle): RunnerTransport {
    return this.base.runnerTransport(bundle);
  }

  assertSeesHostMounts(): void {
    this.base.assertSeesHostMounts();
  }

  create(spec: SandboxCreateSpec, hardening: ResolvedHardening): Promise<SandboxInfo> {
    // A slot's workspace is filled at claim by a mount onto the slot directory: it must propagate.
    return this.base.create(spec.owner === POOL_OWNER ? { ...spec, workspacePropagation: 'rslave' } : spec, hardening);
  }

  async list(): Promise<SandboxInfo[]> {
    const rows = await this.base.list();
    return rows.flatMap((r) => {
      const v = this.view(r);
      return v ? [v] : [];
    });
  }

  async get(id: string): Promise<SandboxInfo | undefined> {
    const r = await this.base.get(id);
    return r && this.view(r);
  }

  /** Every slot, claimed or not: only for the pool itself. */
  listAll(): Promise<SandboxInfo[]> {
    return this.base.list();
  }

  getRaw(id: string): Promise<SandboxInfo | undefined> {
    return this.base.get(id);
  }

  private view(r: SandboxInfo): SandboxInfo | undefined {
    if (r.owner !== POOL_OWNER) return r;
    const claim = this.pool()?.claimOf(r.id);
    if (!claim) return undefined;
    return { ...r, owner: claim.owner, session: claim.session, project: claim.project, name: claim.name, workspace: claim.workspace };
  }

  logs(id: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogChunk> {
    return this.base.logs(id, opts, signal);
  }

  exec(id: string, opts: ExecOptions): Promise<ExecSession> {
    return this.base.exec(id, opts);
  }

  stop(id: string, timeoutSeconds: number): Promise<void> {
    return this.base.stop(id, timeoutSeconds);
  }

  async remove(id: string, force: boolean): Promise<void> {
    await this.base.remove(id, force);
    await this.pool()?.release(id);
  }

  /** Removes a slot by id whatever its state (the pool's own clean-up). */
  removeRaw(id: string): Promise<void> {
    return this.base.remove(id, true);
  }

  pause(id: string): Promise<void> {
    return this.base.pause(id);
  }

  unpause(id: string): Promise<void> {
    return this.base.unpause(id);
  }
}
