// Warm pool: hardened sandboxes started ahead of time so that a session does not
// wait for a container to start. A slot is created through SandboxManager.start
// exactly like a cold sandbox (same hardening, limits, user, runtime), but with
// two empty, root-only slot directories as /workspace and the agent directory,
// bind-mounted with `rslave` propagation. Its main process waits for a claim.
// When workspaces are size-limited volumes, the slot's /workspace is its own
// volume made ahead (empty, mkfs'd, mounted before the container starts): a
// session reserves the slot before its workspace exists, binds the volume at its
// workspace path and fills it in place (git/workspace-fill.ts). Otherwise, at
// claim the daemon bind-mounts the session's workspace onto the slot directory.
// Either way the claim bind-mounts the agent-channel directory onto the slot's
// (the mounts propagate into the running container), then drops `claim.env`
// into it; the waiting runner takes its env and starts. A slot serves one
// session and is then destroyed; a claimed slot is replaced in the background.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import type { AuditLog } from '../audit/types.js';
import type { Caller } from '../authz/caller.js';
import type { SandboxConfig } from '../config.js';
import type { WorkspaceFill, WorkspaceSeeds } from '../git/workspace-fill.js';
import { makeEmptyVolume, volumeImagePath } from '../sessions/workspace-volume.js';
import type { StartRequest } from './manager.js';
import { mountsAt, run, slotCommand, writeClaimFiles } from './pool-slot.js';
import { reservedFile, slotImagePath, sweepVolumes, unmountLazily } from './pool-volumes.js';
import type { RunnerBundle, SandboxInfo, SandboxMount } from './types.js';

/** The owner label of unclaimed slots: no token, OIDC subject or local uid can ever be this subject. */
export const POOL_OWNER = 'loki:pool';

/** The daemon itself, creating slots (audited as `loki:pool`). */
export const POOL_CALLER: Caller = { role: 'local-admin', subject: POOL_OWNER, scopes: ['*'], auth: 'local', requestId: '', clientIp: '' };

export interface ClaimRecord {
  owner: string;
  session: string;
  project: string;
  name: string;
  workspace: string;
  /** The slot's host directory (its `workspace/` and `agent/` are mount points). */
  slotDir: string;
}

interface Slot {
  id: string;
  dir: string;
  /** The image of the workspace volume made ahead (mounted on `<dir>/workspace`); undefined without one. */
  image?: string;
}

/** A ready slot taken for one session before its workspace is made (SandboxPool.reserve). */
interface Reservation {
  slot: Slot;
  /** The session's workspace path, once the fill has bound the volume there. */
  dest?: string;
  /** The slot's state, asked at reserve time so the claim does not wait for Docker. */
  alive: Promise<SandboxInfo | undefined>;
  timer: NodeJS.Timeout;
}

export interface PoolStatus {
  size: number;
  ready: number;
  claimed: number;
  /** Why the pool does not run although size > 0 ('' when it runs or is off). */
  disabled: string;
}

export interface SandboxPoolOptions {
  config: SandboxConfig;
  /** `$LOKI_HOME/pool`: one directory per slot, plus `claims/`. */
  poolDir: string;
  /** The agent directory's path inside the sandbox (AGENT_DIR_IN_SANDBOX). */
  agentDirInSandbox: string;
  /** The session runner's command and its bundle: a slot is pre-started with them. */
  command: readonly string[];
  /** The runner bundle's path in the sandbox: a slot running it loads it before the claim (see slotCommand). */
  preload?: string;
  runner?: RunnerBundle;
  /** Creates a slot container: SandboxManager.start as POOL_CALLER, so it gets the cold path's controls. */
  start: (req: StartRequest) => Promise<SandboxInfo>;
  /** The raw driver's view (pool slots included). */
  listAll: () => Promise<SandboxInfo[]>;
  get: (id: string) => Promise<SandboxInfo | undefined>;
  remove: (id: string) => Promise<void>;
  audit: AuditLog;
  log: Logger;
  /** Whether this daemon can mount (root, in dockerd's mount namespace). Default: uid 0. */
  canMount?: boolean;
  /**
   * Workspaces are size-limited volumes (sessions.workspace.max_size, enforced by a mount):
   * each slot gets its volume made ahead, and a session fills it in place from `seeds`.
   */
  volume?: { workspacesDir: string; maxBytes: number; seeds: WorkspaceSeeds };
}

const REFILL_DELAY_MS = 1500;

/** A reserved slot whose claim does not come (its session failed to start) is destroyed after this. */
const RESERVE_TTL_MS = 120_000;

export class SandboxPool {
  private readonly o: SandboxPoolOptions;
  private readonly ready: Slot[] = [];
  private readonly claims = new Map<string, ClaimRecord>();
  /** Session id → the slot reserved for it. */
  private readonly reserved = new Map<string, Reservation>();
  /** Set when a volume could not be made here: slots are made without one from then on. */
  private volumeOff = false;
  /** Slot id → slot directory, for slots created by this process. */
  private readonly dirs = new Map<string, string>();
  private filling: Promise<void> | undefined;
  private closed = false;
  readonly disabled: string;

  constructor(opts: SandboxPoolOptions) {
    this.o = opts;
    const canMount = opts.canMount ?? process.getuid?.() === 0;
    const size = opts.config.pool.size;
    // Under gVisor the gofer serves the directory it opened at start: a mount made onto it later
    // is not seen (measured: the mounted files are ENOENT inside), so runsc sessions start cold.
    this.disabled = !size
      ? ''
      : opts.config.runtime === 'runsc'
        ? 'sandbox.runtime is runsc: gVisor does not see a mount made after the sandbox started, so sessions start cold'
        : !canMount
          ? 'the warm pool mounts the workspace into a running slot, which needs lokid to run as root'
          : '';
  }

  get size(): number {
    return this.disabled ? 0 : this.o.config.pool.size;
  }

  /** Ready slots: they count against sandbox.max_sandboxes although no list shows them. */
  get readyCount(): number {
    return this.ready.length + this.reserved.size;
  }

  status(): PoolStatus {
    return { size: this.o.config.pool.size, ready: this.ready.length, claimed: this.claims.size, disabled: this.disabled };
  }

  /** The claim record of a claimed slot; undefined for anything else. */
  claimOf(id: string): ClaimRecord | undefined {
    return this.claims.get(id);
  }

  private get claimsDir(): string {
    return join(this.o.poolDir, 'claims');
  }

  /**
   * Startup: reads the claims of slots that serve sessions (they keep running and
   * are re-attached), removes every other pool container and slot directory (a
   * crash or shutdown left them: a slot is never reused), then fills the pool.
   */
  async start(): Promise<void> {
    if (this.disabled) this.o.log.warn({ reason: this.disabled }, 'sandbox.pool.size is set but the warm pool is off');
    mkdirSync(this.claimsDir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.claimsDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        this.claims.set(f.slice(0, -5), JSON.parse(readFileSync(join(this.claimsDir, f), 'utf8')) as ClaimRecord);
      } catch {
        rmSync(join(this.claimsDir, f), { force: true });
      }
    }
    const all = await this.o.listAll();
    const live = new Set(all.map((s) => s.id));
    const inUse = new Set<string>();
    let orphans = 0;
    for (const s of all) {
      if (s.owner !== POOL_OWNER) continue;
      if (this.claims.has(s.id)) {
        inUse.add(this.claims.get(s.id)!.slotDir);
        continue;
      }
      orphans++;
      await this.o.remove(s.id);
      await this.release(s.id, dirname(s.workspace));
    }
    for (const id of [...this.claims.keys()]) if (!live.has(id)) await this.release(id);
    for (const d of readdirSync(this.o.poolDir)) {
      const dir = join(this.o.poolDir, d);
      if (d.startsWith('slot-') && !inUse.has(dir)) await this.release('', dir);
    }
    await sweepVolumes(this.o.poolDir, this.o.volume?.workspacesDir, this.o.log);
    if (orphans) this.o.log.info({ removed: orphans }, 'removed unclaimed pool slots left by an earlier daemon');
    this.refill();
  }

  /** Shutdown: stops filling and removes the ready slots (claimed ones serve sessions and stay). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([this.filling, this.o.volume?.seeds.close()]);
    const slots = this.ready.splice(0);
    for (const [session, r] of this.reserved) {
      clearTimeout(r.timer);
      // The record stays: a start in flight may still bind the volume; the next start sweeps it.
      this.reserved.delete(session);
      slots.push(r.slot);
    }
    await Promise.all(slots.map((s) => this.destroy(s)));
  }

  /** Removes a slot's container, then its directories and volume: a slot is never reused. */
  private async destroy(s: Slot): Promise<void> {
    await this.o.remove(s.id).catch((err: unknown) => this.o.log.warn({ err, sandbox: s.id }, 'removing a pool slot failed'));
    await this.release(s.id, s.dir);
  }

  /**
   * After a claim: the replacement starts a little later, so that creating it
   * does not compete for CPU with the claiming session's own start-up.
   */
  private refillSoon(): void {
    setTimeout(() => this.refill(), REFILL_DELAY_MS).unref();
  }

  /** Starts filling up to the configured size in the background (one slot at a time: creation is CPU-heavy). */
  refill(): void {
    if (this.closed || !this.size || this.filling) return;
    this.filling = this.fill().finally(() => {
      this.filling = undefined;
    });
  }

  private async fill(): Promise<void> {
    while (!this.closed && this.ready.length < this.size) {
      const active = (await this.o.listAll()).filter((s) => s.state === 'running' || s.state === 'paused' || s.state === 'created').length;
      if (active >= this.o.config.max_sandboxes) return;
      try {
        const slot = await this.createSlot();
        if (this.closed) {
          await this.o.remove(slot.id);
          await this.release(slot.id, slot.dir);
        } else {
          this.ready.push(slot);
        }
      } catch (err) {
        this.o.log.warn({ err }, 'could not create a warm pool slot; will retry at the next claim');
        return;
      }
    }
  }

  private async createSlot(): Promise<Slot> {
    const tmp = join(this.o.poolDir, `slot-${randomBytes(6).toString('hex')}`);
    const ws = join(tmp, 'workspace');
    const agent = join(tmp, 'agent');
    // Root-only and empty: nothing in the slot can write there before the claim covers them.
    mkdirSync(ws, { recursive: true, mode: 0o700 });
    mkdirSync(agent, { mode: 0o700 });
    chmodSync(tmp, 0o700);
    const image = await this.makeVolume(tmp);
    // A shared mount point of its own, so that what is mounted onto it later reaches the slot (rslave).
    for (const d of image ? [agent] : [ws, agent]) {
      await run('mount', ['--bind', d, d]);
      await run('mount', ['--make-shared', d]);
    }
    let info: SandboxInfo;
    try {
      info = await this.o.start({
        name: '',
        project: '',
        image: '',
        command: slotCommand(this.o.agentDirInSandbox, this.o.command, this.o.preload),
        env: {},
        limits: {},
        relax: { network: false, writableRootfs: false, rootUser: false },
        workspace: ws,
        // The slot's own agent channel: the empty slot directory, filled by a mount at claim (rslave).
        agentChannel: { dirInSandbox: this.o.agentDirInSandbox, mounts: [{ hostPath: agent, containerPath: this.o.agentDirInSandbox, readOnly: false, propagation: 'rslave' }] },
        ...(this.o.runner ? { runner: this.o.runner } : {}),
      });
    } catch (err) {
      await this.release('', tmp);
      throw err;
    }
    this.dirs.set(info.id, tmp);
    return { id: info.id, dir: tmp, ...(image ? { image } : {}) };
  }

  /** The slot's workspace volume, made ahead and mounted (shared) on `<slot>/workspace`; undefined without one. */
  private async makeVolume(slotDir: string): Promise<string | undefined> {
    const v = this.o.volume;
    if (!v || this.volumeOff) return undefined;
    const image = slotImagePath(v.workspacesDir, slotDir);
    try {
      await makeEmptyVolume(image, join(slotDir, 'workspace'), v.maxBytes);
      return image;
    } catch (err) {
      this.volumeOff = true;
      this.o.log.warn({ err }, 'could not make a workspace volume ahead for a pool slot; slots get the workspace bound at claim instead');
      return undefined;
    }
  }

  /**
   * Takes a ready slot with its volume made ahead for one session, before its
   * workspace exists (undefined: none ready, or the session needs what no slot
   * has). The returned fill binds the volume at the workspace path and fills it;
   * the claim (`claim`, with the same session) then only hands over the agent
   * channel. A reserved slot is the session's alone: one whose claim does not
   * come, or whose fill fails, is destroyed.
   */
  reserve(sessionId: string, want: { image: string; network: boolean }): WorkspaceFill | undefined {
    const v = this.o.volume;
    if (this.closed || !this.size || !v || this.reserved.has(sessionId)) return undefined;
    if ((want.image && want.image !== this.o.config.image) || want.network) return undefined;
    const i = this.ready.findIndex((s) => s.image);
    if (i < 0) {
      this.refill();
      return undefined;
    }
    const slot = this.ready.splice(i, 1)[0]!;
    const r: Reservation = {
      slot,
      alive: this.o.get(slot.id).catch(() => undefined),
      timer: setTimeout(() => void this.drop(sessionId, 'its session did not claim it'), RESERVE_TTL_MS).unref(),
    };
    this.reserved.set(sessionId, r);
    mkdirSync(dirname(reservedFile(this.o.poolDir, sessionId)), { recursive: true, mode: 0o700 });
    writeFileSync(reservedFile(this.o.poolDir, sessionId), JSON.stringify({ session: sessionId, slot: slot.id }), { mode: 0o600 });
    this.refillSoon();
    const ws = join(slot.dir, 'workspace');
    return {
      fill: async (t) => {
        // The volume is the session's from here: its image goes by the session's name (the loop device
        // holds the file open), so the session's clean-up frees it like any workspace volume.
        renameSync(slot.image!, volumeImagePath(v.workspacesDir, sessionId));
        mkdirSync(t.dest, { recursive: true, mode: 0o700 }); // createWorkspace has claimed it (an exclusive mkdir) already
        r.dest = t.dest;
        // The seed is copied onto the volume while it is bound at the workspace path (a private bind:
        // nothing mounted under the session's path ever propagates into a slot).
        const [, filled] = await Promise.all([run('mount', ['--bind', '--make-private', ws, t.dest]), v.seeds.fill({ ...t, dest: ws })]);
        return filled;
      },
      undo: async (dest) => {
        await unmountLazily(dest);
        rmSync(volumeImagePath(v.workspacesDir, sessionId), { force: true });
        await this.drop(sessionId, 'filling the workspace failed');
      },
    };
  }

  private async drop(sessionId: string, why: string): Promise<void> {
    const r = this.reserved.get(sessionId);
    if (!r) return;
    this.reserved.delete(sessionId);
    rmSync(reservedFile(this.o.poolDir, sessionId), { force: true });
    clearTimeout(r.timer);
    this.o.log.info({ sandbox: r.slot.id, session_id: sessionId, why }, 'a reserved pool slot is destroyed');
    await this.destroy(r.slot);
    this.refill();
  }

  /**
   * Hands a ready slot to a session, or returns undefined (the caller starts a
   * cold sandbox): the request must be one a slot can serve — a session's
   * sandbox with the default image, limits, hardening, command and mounts.
   */
  async claim(caller: Caller, req: StartRequest): Promise<SandboxInfo | undefined> {
    const channel = this.eligible(req);
    const r = req.session ? this.reserved.get(req.session) : undefined;
    if (r) {
      this.reserved.delete(req.session!);
      rmSync(reservedFile(this.o.poolDir, req.session!), { force: true });
      clearTimeout(r.timer);
      const info = channel && req.workspace && req.workspace === r.dest ? await r.alive : undefined;
      if (info?.state === 'running') return this.hand(caller, req, channel!, r.slot, info, false);
      // The session's workspace stays on the volume (bound at its path); the slot goes, and it starts cold.
      await this.destroy(r.slot);
      this.refill();
      return undefined;
    }
    if (!channel || !req.workspace || !req.session) return undefined;
    for (;;) {
      const slot = this.ready.shift();
      if (!slot) {
        this.refill();
        return undefined;
      }
      const info = await this.o.get(slot.id);
      if (!info || info.state !== 'running') {
        await this.destroy(slot);
        continue;
      }
      return this.hand(caller, req, channel, slot, info, true);
    }
  }

  /** Hands `slot` to the session: the mounts, the claim record, then the claim files that release its runner. */
  private async hand(caller: Caller, req: StartRequest, channel: SandboxMount, slot: Slot, info: SandboxInfo, bindWorkspace: boolean): Promise<SandboxInfo | undefined> {
    const record: ClaimRecord = { owner: caller.subject, session: req.session!, project: req.project, name: req.name || slot.id, workspace: req.workspace!, slotDir: slot.dir };
    try {
      if (bindWorkspace) await run('mount', ['--bind', req.workspace!, join(slot.dir, 'workspace')]);
      await run('mount', ['--bind', channel.hostPath, join(slot.dir, 'agent')]);
      writeFileSync(join(this.claimsDir, `${slot.id}.json`), JSON.stringify(record), { mode: 0o600 });
      this.claims.set(slot.id, record);
      writeClaimFiles(channel.hostPath, req.env);
    } catch (err) {
      this.o.log.warn({ err, sandbox: slot.id, session_id: req.session }, 'claiming a pool slot failed; starting cold');
      this.claims.delete(slot.id);
      await this.destroy(slot);
      this.refill();
      return undefined;
    }
    // Not awaited here: SandboxManager.start records `sandbox.start` right after, and the audit log
    // makes both durable in one batch (one fsync on the session's start, not two in a row).
    void this.o.audit.record({
      action: 'sandbox.pool.claim',
      user: caller.subject,
      resource: `sandbox:${slot.id}`,
      details: { session: req.session, project: req.project, ready_left: this.ready.length },
      result: 'success',
      ip: caller.clientIp,
      request_id: caller.requestId,
    }).catch((err: unknown) => this.o.log.error({ err, sandbox: slot.id, session_id: req.session }, 'could not audit a pool claim'));
    this.refillSoon();
    return { ...info, owner: record.owner, session: record.session, project: record.project, name: record.name, workspace: record.workspace };
  }

  /** The agent-channel mount when the request is one a slot can serve; undefined otherwise. */
  private eligible(req: StartRequest): SandboxMount | undefined {
    if (this.closed || !this.size) return undefined;
    if (req.image && req.image !== this.o.config.image) return undefined;
    if (req.relax.network || req.relax.writableRootfs || req.relax.rootUser) return undefined;
    if (Object.values(req.limits).some((v) => v)) return undefined;
    if (req.command.length !== this.o.command.length || req.command.some((c, i) => c !== this.o.command[i])) return undefined;
    const mounts = req.agentChannel?.mounts ?? [];
    const channel = mounts.length === 1 && mounts[0]!.containerPath === this.o.agentDirInSandbox && !mounts[0]!.readOnly ? mounts[0] : undefined;
    const a = req.runner;
    const b = this.o.runner;
    const same = a && b ? a.bundleDir === b.bundleDir && a.entry === b.entry && a.pathInSandbox === b.pathInSandbox : a === b;
    return channel && same ? channel : undefined;
  }

  /** After a slot's container is gone: unmounts and removes its directories and its claim. */
  async release(id: string, slotDir?: string): Promise<void> {
    const dir = slotDir ?? this.claims.get(id)?.slotDir ?? this.dirs.get(id);
    if (id) {
      this.claims.delete(id);
      this.dirs.delete(id);
      rmSync(join(this.claimsDir, `${id}.json`), { force: true });
    }
    // Only ever a slot directory of ours: never follow a label elsewhere.
    if (dir && dirname(dir) === this.o.poolDir && /^slot-[0-9a-f]{12}$/.test(dir.slice(this.o.poolDir.length + 1)) && existsSync(dir)) {
      await this.unmountAll(dir);
      // Never delete through a mount: a claim bind still there is the session's workspace,
      // whose branch has not been brought back yet.
      if (['workspace', 'agent'].some((sub) => mountsAt(join(dir, sub)) > 0)) {
        this.o.log.warn({ dir }, 'a pool slot directory is still mounted; left in place');
        return;
      }
      rmSync(dir, { recursive: true, force: true });
      if (this.o.volume) rmSync(slotImagePath(this.o.volume.workspacesDir, dir), { force: true });
    }
  }

  private async unmountAll(dir: string): Promise<void> {
    for (const sub of ['workspace', 'agent']) await unmountLazily(join(dir, sub));
  }

  /** Whether `id` is an unclaimed slot (invisible to every caller). */
  isHidden(info: SandboxInfo): boolean {
    return info.owner === POOL_OWNER && !this.claims.has(info.id);
  }
}
