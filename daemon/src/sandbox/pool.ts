// Warm pool: hardened sandboxes started ahead of time so that a session does not
// wait for a container to start. A slot is created through SandboxManager.start
// exactly like a cold sandbox (same hardening, limits, user, runtime), but with
// two empty, root-only slot directories as /workspace and the agent directory,
// bind-mounted with `rslave` propagation. Its main process waits for a claim.
// At claim the daemon bind-mounts the session's workspace and agent-channel
// directory onto the slot directories (the mounts propagate into the running
// container), then drops `claim.env` into the channel directory; the waiting
// shell sources it and execs the runner. A slot serves one session and is then
// destroyed; a claimed slot is replaced in the background.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../../common/src/index.js';
import type { AuditLog } from '../audit/types.js';
import type { Caller } from '../authz/caller.js';
import type { SandboxConfig } from '../config.js';
import type { StartRequest } from './manager.js';
import { CLAIM_FILE, CLAIM_JSON, slotCommand } from './pool-slot.js';
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
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve()));
  });
}

/** Mounts stacked on `dir` (self-bind + claim bind), from /proc/self/mountinfo (octal escapes undone). */
function mountsAt(dir: string): number {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => unescape(l.split(' ')[4] ?? '') === dir).length;
  } catch {
    return 0;
  }
}

const REFILL_DELAY_MS = 1500;

const shQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

export class SandboxPool {
  private readonly o: SandboxPoolOptions;
  private readonly ready: Slot[] = [];
  private readonly claims = new Map<string, ClaimRecord>();
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
    return this.ready.length;
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
    if (orphans) this.o.log.info({ removed: orphans }, 'removed unclaimed pool slots left by an earlier daemon');
    this.refill();
  }

  /** Shutdown: stops filling and removes the ready slots (claimed ones serve sessions and stay). */
  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    const slots = this.ready.splice(0);
    await Promise.all(slots.map(async (s) => {
      await this.o.remove(s.id).catch((err: unknown) => this.o.log.warn({ err, sandbox: s.id }, 'removing a pool slot failed'));
      await this.release(s.id, s.dir);
    }));
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
    // A shared mount point of its own, so that what is mounted onto it later reaches the slot (rslave).
    for (const d of [ws, agent]) {
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
    return { id: info.id, dir: tmp };
  }

  /**
   * Hands a ready slot to a session, or returns undefined (the caller starts a
   * cold sandbox): the request must be one a slot can serve — a session's
   * sandbox with the default image, limits, hardening, command and mounts.
   */
  async claim(caller: Caller, req: StartRequest): Promise<SandboxInfo | undefined> {
    const channel = this.eligible(req);
    if (!channel || !req.workspace || !req.session) return undefined;
    for (;;) {
      const slot = this.ready.shift();
      if (!slot) {
        this.refill();
        return undefined;
      }
      const info = await this.o.get(slot.id);
      if (!info || info.state !== 'running') {
        await this.o.remove(slot.id).catch(() => undefined);
        await this.release(slot.id, slot.dir);
        continue;
      }
      const record: ClaimRecord = { owner: caller.subject, session: req.session, project: req.project, name: req.name || slot.id, workspace: req.workspace, slotDir: slot.dir };
      try {
        await run('mount', ['--bind', req.workspace, join(slot.dir, 'workspace')]);
        await run('mount', ['--bind', channel.hostPath, join(slot.dir, 'agent')]);
        writeFileSync(join(this.claimsDir, `${slot.id}.json`), JSON.stringify(record), { mode: 0o600 });
        this.claims.set(slot.id, record);
        // Each written whole, then renamed: the waiting runner never reads half a file.
        // No secret goes in: only what the cold path puts in the container's env.
        const put = (name: string, text: string) => {
          const tmp = join(channel.hostPath, `.${name}.tmp`);
          writeFileSync(tmp, text, { mode: 0o644 });
          renameSync(tmp, join(channel.hostPath, name));
        };
        put(CLAIM_JSON, JSON.stringify(req.env));
        put(CLAIM_FILE, Object.entries(req.env).map(([k, v]) => `export ${k}=${shQuote(v)}\n`).join(''));
      } catch (err) {
        this.o.log.warn({ err, sandbox: slot.id, session_id: req.session }, 'claiming a pool slot failed; starting cold');
        this.claims.delete(slot.id);
        await this.o.remove(slot.id).catch(() => undefined);
        await this.release(slot.id, slot.dir);
        this.refill();
        return undefined;
      }
      await this.o.audit.record({
        action: 'sandbox.pool.claim',
        user: caller.subject,
        resource: `sandbox:${slot.id}`,
        details: { session: req.session, project: req.project, ready_left: this.ready.length },
        result: 'success',
        ip: caller.clientIp,
        request_id: caller.requestId,
      });
      this.refillSoon();
      return { ...info, owner: record.owner, session: record.session, project: record.project, name: record.name, workspace: record.workspace };
    }
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
    }
  }

  private async unmountAll(dir: string): Promise<void> {
    for (const sub of ['workspace', 'agent']) {
      const p = join(dir, sub);
      // Lazy: the claim bind may still hold a busy workspace; the kernel detaches it when free.
      for (let i = 0; i < 4 && mountsAt(p) > 0; i++) await run('umount', ['-l', p]).catch(() => undefined);
    }
  }

  /** Whether `id` is an unclaimed slot (invisible to every caller). */
  isHidden(info: SandboxInfo): boolean {
    return info.owner === POOL_OWNER && !this.claims.has(info.id);
  }
}
