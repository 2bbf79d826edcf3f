// Warm pool: hardened sandboxes started ahead of time so that a session does not
// wait for a container to start. A slot is created through SandboxManager.start
// exactly like a cold sandbox (same hardening, limits, user, runtime). Each slot
// is made for one future session id (`ses-<hex>` of its `slot-<hex>`): its agent
// directory is that session's own (empty and root-only until the session opens
// its channel there) and, when workspaces are size-limited volumes, its /workspace
// is that session's workspace path with a volume made ahead on it (empty,
// mkfs'd, mounted before the container starts). A session reserves a slot before
// it is created, takes the slot's id, fills the volume in place
// (git/workspace-fill.ts) and opens its channel where the slot already sees it:
// the claim mounts nothing and only drops `claim.env` into the agent directory,
// which releases the waiting runner. Without volumes the slot's /workspace is an
// empty root-only slot directory (`rslave`), onto which the claim binds the
// session's workspace. A slot serves one session and is then destroyed; a claimed
// slot is replaced in the background.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Caller } from '../authz/caller.js';
import { volumeImagePath } from '../sessions/workspace-volume.js';
import type { StartRequest } from './manager.js';
import { mountsAt, run, slotCommand, wakeSlot, writeClaimFiles } from './pool-slot.js';
import { freeSessionPaths, makeSlotVolume, reservedFile, sessionOf, slotDirOf, slotImagePath, sweepVolumes, unmountLazily } from './pool-volumes.js';
import { POOL_OWNER, slotCanServe, type ClaimRecord, type PoolStatus, type Reservation, type SandboxPoolOptions, type Slot, type SlotReservation } from './pool-types.js';
import type { SandboxInfo, SandboxMount } from './types.js';

export { POOL_CALLER, POOL_OWNER } from './pool-types.js';
export type { ClaimRecord, PoolStatus, SandboxPoolOptions, SlotReservation } from './pool-types.js';

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
      const dir = slotDirOf(this.o.poolDir, s.workspace);
      if (dir) await this.freeSessionPaths(sessionOf(dir));
      await this.release(s.id, dir);
    }
    for (const id of [...this.claims.keys()]) if (!live.has(id)) await this.release(id);
    for (const d of readdirSync(this.o.poolDir)) {
      const dir = join(this.o.poolDir, d);
      if (!d.startsWith('slot-') || inUse.has(dir)) continue;
      await this.freeSessionPaths(sessionOf(dir));
      await this.release('', dir);
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

  /** Removes an unclaimed slot's container, then its directories and volume: a slot is never reused. */
  private async destroy(s: Slot): Promise<void> {
    await this.o.remove(s.id).catch((err: unknown) => this.o.log.warn({ err, sandbox: s.id }, 'removing a pool slot failed'));
    await this.freeSessionPaths(s.session);
    await this.release(s.id, s.dir);
  }

  /** What an unclaimed slot made at its session's paths, while still empty (pool-volumes.ts). */
  private freeSessionPaths(session: string): Promise<void> {
    return freeSessionPaths(this.o.agentDir(session), this.o.volume && join(this.o.volume.workspacesDir, session));
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
    const session = sessionOf(tmp);
    const agent = this.o.agentDir(session);
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    chmodSync(tmp, 0o700);
    // Root-only and empty: nothing in the slot can read or write there before the session's channel opens.
    mkdirSync(dirname(agent), { recursive: true, mode: 0o711 });
    mkdirSync(agent, { mode: 0o700 });
    let ws = '';
    let image: string | undefined;
    let info: SandboxInfo;
    try {
      image = await this.makeVolume(tmp, session);
      ws = image ? join(this.o.volume!.workspacesDir, session) : join(tmp, 'workspace');
      if (!image) {
        // Root-only and empty, and a shared mount point of its own: the claim's bind onto it reaches the slot (rslave).
        mkdirSync(ws, { mode: 0o700 });
        await run('mount', ['--bind', ws, ws]);
        await run('mount', ['--make-shared', ws]);
      }
      info = await this.o.start({
        name: '',
        project: '',
        image: '',
        command: slotCommand(this.o.agentDirInSandbox, this.o.command, this.o.preload),
        env: {},
        limits: {},
        relax: { network: false, writableRootfs: false, rootUser: false },
        workspace: ws,
        // The agent channel's directory of the session the slot is made for: its channel opens there.
        agentChannel: { dirInSandbox: this.o.agentDirInSandbox, mounts: [{ hostPath: agent, containerPath: this.o.agentDirInSandbox, readOnly: false }] },
        ...(this.o.runner ? { runner: this.o.runner } : {}),
      });
    } catch (err) {
      await this.freeSessionPaths(session);
      await this.release('', tmp);
      throw err;
    }
    this.dirs.set(info.id, tmp);
    return { id: info.id, dir: tmp, session, ...(image ? { image } : {}) };
  }

  /** The slot's workspace volume, made ahead and mounted (shared) at its session's workspace path; undefined without one. */
  private async makeVolume(slotDir: string, session: string): Promise<string | undefined> {
    const v = this.o.volume;
    if (!v || this.volumeOff) return undefined;
    try {
      return await makeSlotVolume(v.workspacesDir, v.maxBytes, slotDir, session);
    } catch (err) {
      this.volumeOff = true;
      this.o.log.warn({ err }, 'could not make a workspace volume ahead for a pool slot; slots get the workspace bound at claim instead');
      return undefined;
    }
  }

  /**
   * Takes a ready slot for a session about to be created (undefined: none ready,
   * or the session needs what no slot has). The session must take the returned
   * id: the slot's agent directory (and volume) are made at that session's paths.
   * With a volume, the returned fill fills it in place; the claim (`claim`, with
   * the same session) then only writes the claim files. A reserved slot is the
   * session's alone: one whose claim does not come, or whose fill fails, is destroyed.
   */
  reserve(want: { image: string; network: boolean }): SlotReservation | undefined {
    if (this.closed || !this.size) return undefined;
    if ((want.image && want.image !== this.o.config.image) || want.network) return undefined;
    const slot = this.ready.shift();
    if (!slot) {
      this.refill();
      return undefined;
    }
    const sessionId = slot.session;
    const r: Reservation = {
      slot,
      alive: this.o.get(slot.id).catch(() => undefined),
      timer: setTimeout(() => void this.drop(sessionId, 'its session did not claim it'), RESERVE_TTL_MS).unref(),
    };
    this.reserved.set(sessionId, r);
    mkdirSync(dirname(reservedFile(this.o.poolDir, sessionId)), { recursive: true, mode: 0o700 });
    writeFileSync(reservedFile(this.o.poolDir, sessionId), JSON.stringify({ session: sessionId, slot: slot.id }), { mode: 0o600 });
    this.refillSoon();
    const cancel = () => this.drop(sessionId, 'its session was not started');
    const v = this.o.volume;
    if (!slot.image || !v) return { sessionId, cancel };
    const dest = join(v.workspacesDir, sessionId);
    return {
      sessionId,
      cancel,
      fill: {
        dest,
        fill: async (t) => {
          if (t.dest !== dest) return false;
          // The volume is the session's from here: its image goes by the session's name (the loop device
          // holds the file open), so the session's clean-up frees it like any workspace volume.
          renameSync(slot.image!, volumeImagePath(v.workspacesDir, sessionId));
          r.dest = t.dest;
          return v.seeds.fill(t);
        },
        undo: async () => {
          await unmountLazily(dest);
          rmSync(volumeImagePath(v.workspacesDir, sessionId), { force: true });
          await this.drop(sessionId, 'filling the workspace failed');
        },
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
   * Hands the slot reserved for the request's session to it, or returns undefined
   * (the caller starts a cold sandbox): the request must be one a slot can serve —
   * a session's sandbox with the default image, limits, hardening, command and
   * mounts, its agent channel in the slot's agent directory and, with a volume,
   * its workspace the one filled there. A session no slot was reserved for starts cold.
   */
  async claim(caller: Caller, req: StartRequest): Promise<SandboxInfo | undefined> {
    const r = req.session ? this.reserved.get(req.session) : undefined;
    if (!r) return undefined;
    this.reserved.delete(req.session!);
    rmSync(reservedFile(this.o.poolDir, req.session!), { force: true });
    clearTimeout(r.timer);
    const channel = this.eligible(req);
    const fits = channel?.hostPath === this.o.agentDir(r.slot.session) && !!req.workspace && (!r.slot.image || req.workspace === r.dest);
    const info = fits ? await r.alive : undefined;
    if (info?.state === 'running') return this.hand(caller, req, r.slot, info);
    // The session keeps what it made at its paths (workspace, channel); the slot goes, and it starts cold.
    await this.destroy(r.slot);
    this.refill();
    return undefined;
  }

  /** Hands `slot` to the session: the claim record, then the claim files that release its runner (no mount, unless the workspace has no volume made ahead). */
  private async hand(caller: Caller, req: StartRequest, slot: Slot, info: SandboxInfo): Promise<SandboxInfo | undefined> {
    const record: ClaimRecord = { owner: caller.subject, session: req.session!, project: req.project, name: req.name || slot.id, workspace: req.workspace!, slotDir: slot.dir };
    try {
      if (!slot.image) await run('mount', ['--bind', req.workspace!, join(slot.dir, 'workspace')]);
      writeFileSync(join(this.claimsDir, `${slot.id}.json`), JSON.stringify(record), { mode: 0o600 });
      this.claims.set(slot.id, record);
      writeClaimFiles(this.o.agentDir(slot.session), req.env);
    } catch (err) {
      this.o.log.warn({ err, sandbox: slot.id, session_id: req.session }, 'claiming a pool slot failed; starting cold');
      this.claims.delete(slot.id);
      await this.destroy(slot);
      this.refill();
      return undefined;
    }
    // Its waiter sees the claim now instead of at its next poll (≤ 10 ms).
    wakeSlot(info.hostPid, info.containerId);
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
    return this.closed || !this.size ? undefined : slotCanServe(req, this.o);
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
