// SandboxManager: the daemon's policy around sandboxes — validation, ownership,
// workspace directories, hardening (two keys), audit — on top of a SandboxDriver.
import { randomBytes } from 'node:crypto';
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LokiError, counted, type Logger } from '../../../common/src/index.js';
import type { AuditLog } from '../audit/types.js';
import type { SandboxConfig } from '../config.js';
import type { SlotReservation } from './pool-types.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import { checkRelaxations, resolveHardening } from './hardening.js';
import { checkArgv, checkEnv, SANDBOX_ID_RE, SANDBOX_NAME_RE, validateRef } from './validate.js';
import { SANDBOX_UID, SANDBOX_WORKSPACE, type AgentChannelTransport, type DriverInfo, type ExecOptions, type ExecSession, type ImageBuildEvent, type ImageBuildRequest, type LogChunk, type LogOptions, type RunnerBundle, type SandboxDriver, type SandboxInfo, type SandboxLimits, type SandboxRelaxations } from './types.js';

export interface StartRequest {
  name: string;
  project: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  limits: Partial<SandboxLimits>;
  relax: SandboxRelaxations;
  /** Set by the daemon for session sandboxes (never from an API request). */
  session?: string;
  workspace?: string;
  /** The session's agent channel (`agentChannelMount`), handed back to the driver untouched. */
  agentChannel?: AgentChannelTransport;
  /** The agent-runner bundle the sandbox runs; the driver carries it in (`runnerTransport`). */
  runner?: RunnerBundle;
}

export interface TeardownOptions {
  /** Give the main process this long to exit by itself first (a runner that finished). */
  waitExitMs?: number;
  /** Keep this many last lines of the sandbox's output (returned as `tail`). */
  tailLines?: number;
  /** `docker stop` grace; undefined: no grace, the container is killed with the removal. */
  stopTimeoutSeconds?: number;
}

export interface SandboxManagerOptions {
  driver: SandboxDriver;
  config: SandboxConfig;
  seccompPath: string;
  workspacesDir: string;
  audit: AuditLog;
  log: Logger;
  /** The warm pool (sandbox.pool.size > 0): a session's sandbox is claimed from it when one is ready. */
  pool?: SandboxClaimer;
}

export interface SandboxClaimer {
  claim(caller: Caller, req: StartRequest): Promise<SandboxInfo | undefined>;
  /** A ready slot, taken for a session before the session is created (the session takes the slot's id). */
  reserve(want: { image: string; network: boolean }): SlotReservation | undefined;
  /** Ready slots: they count against max_sandboxes although no list shows them. */
  readonly readyCount: number;
}

/**
 * The sandbox's dedicated uid:gid when the daemon is root: in no host account's
 * range (useradd allocates below 60000; Debian reserves 60000-64999 for
 * packages that ask), so no host user shares it and only the sandbox can use
 * the files and agent sockets handed to it.
 */
export const DEFAULT_SANDBOX_UID = SANDBOX_UID;

/** `auto`: 64000:64000 when the daemon is root, else the daemon's own uid:gid (it cannot give files away). */
export function resolveSandboxUser(spec: string): { uid: number; gid: number } {
  if (spec !== 'auto') {
    const [u, g] = spec.split(':').map(Number);
    return { uid: u!, gid: g! };
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : DEFAULT_SANDBOX_UID;
  const gid = typeof process.getgid === 'function' ? process.getgid() : DEFAULT_SANDBOX_UID;
  return uid === 0 ? { uid: DEFAULT_SANDBOX_UID, gid: DEFAULT_SANDBOX_UID } : { uid, gid };
}

export class SandboxManager {
  private readonly o: SandboxManagerOptions;
  private readonly user: { uid: number; gid: number };
  private engine: DriverInfo | undefined;

  constructor(opts: SandboxManagerOptions) {
    for (const k of ['driver', 'config', 'seccompPath', 'workspacesDir', 'audit', 'log'] as const) {
      if (!opts[k]) throw new Error(`SandboxManager: missing dependency ${k}`);
    }
    this.o = opts;
    this.user = resolveSandboxUser(opts.config.user);
  }

  get sandboxUser(): { uid: number; gid: number } {
    return this.user;
  }

  /** A warm pool slot for a session about to be created, when one is ready for it; the start with its `session` claims it. */
  reserveSlot(want: { image: string; network: boolean }): SlotReservation | undefined {
    return this.o.pool?.reserve(want);
  }

  /** Re-attaches to sandboxes that survived a daemon restart (Docker labels are the record). */
  async reconcile(): Promise<SandboxInfo[]> {
    const all = await this.o.driver.list();
    const running = all.filter((s) => s.state === 'running' || s.state === 'paused');
    if (all.length) this.o.log.info({ running: running.length, total: all.length }, 're-attached to existing sandboxes');
    return all;
  }

  /**
   * The sandboxes Docker has for a session, whatever their state (the session label is the record). A start
   * cut off by a crash made its container before it could note the id in the session: this finds it.
   */
  async sessionSandboxes(sessionId: string): Promise<SandboxInfo[]> {
    if (!sessionId) return [];
    return (await this.o.driver.list()).filter((s) => s.session === sessionId);
  }

  /**
   * A session asks this before it makes anything: a relaxation the config does not allow is refused
   * (and audited, as `sandbox.start` denied) before a workspace is cloned, not after.
   */
  async checkRelaxations(caller: Caller, req: Pick<StartRequest, 'relax' | 'name' | 'project'>): Promise<void> {
    try {
      checkRelaxations(this.o.config, req.relax);
    } catch (err) {
      await this.audit(caller, 'sandbox.start', `sandbox:${req.name || 'new'}`, 'denied', { image: this.o.config.image, project: req.project }, (err as Error).message);
      throw err;
    }
  }

  async start(caller: Caller, req: StartRequest): Promise<SandboxInfo> {
    try {
      const info = await this.startUnaudited(caller, req);
      await this.audit(caller, 'sandbox.start', `sandbox:${info.id}`, 'success', { name: info.name, image: info.image, project: req.project, hardening: info.hardening });
      return info;
    } catch (err) {
      // Refusals are audited too, with the reason: denied for permission problems, error otherwise.
      const le = err instanceof LokiError ? err : undefined;
      const result = le?.kind === 'permission_denied' || le?.kind === 'unauthenticated' ? 'denied' : 'error';
      await this.audit(caller, 'sandbox.start', `sandbox:${req.name || 'new'}`, result, { image: req.image || this.o.config.image, project: req.project }, (err as Error).message);
      throw err;
    }
  }

  private async startUnaudited(caller: Caller, req: StartRequest): Promise<SandboxInfo> {
    requireScope(caller, 'control');
    if (req.name && !SANDBOX_NAME_RE.test(req.name)) {
      throw new LokiError('invalid_argument', `name "${req.name.slice(0, 64)}" must match [a-z0-9][a-z0-9_.-]{0,62}`);
    }
    if (req.project && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(req.project)) {
      throw new LokiError('invalid_argument', 'project must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}');
    }
    if (req.image && !/^[a-z0-9][a-z0-9._/:@-]{0,254}$/.test(req.image)) {
      throw new LokiError('invalid_argument', `image "${req.image.slice(0, 64)}" is not a valid image reference`);
    }
    checkArgv('command', req.command);
    checkEnv(req.env);
    const runner = req.runner ? this.o.driver.runnerTransport(req.runner) : undefined; // before a claim too: a missing bundle fails alike
    // A ready slot already holds its place under max_sandboxes: claiming it adds no sandbox.
    const claimed = req.session ? await this.o.pool?.claim(caller, req) : undefined;
    if (claimed) return claimed;
    const existing = await this.o.driver.list();
    if (req.name && existing.some((s) => s.name === req.name)) {
      throw new LokiError('name_in_use', `a sandbox named "${req.name}" already exists`);
    }
    const active = existing.filter((s) => s.state === 'running' || s.state === 'paused' || s.state === 'created').length + (this.o.pool?.readyCount ?? 0);
    if (active >= this.o.config.max_sandboxes) {
      throw new LokiError('resource_exhausted', `the daemon already runs ${counted(active, 'sandbox', 'sandboxes')} (sandbox.max_sandboxes = ${this.o.config.max_sandboxes})`);
    }
    const image = req.image || this.o.config.image;
    if (!(await this.o.driver.imageExists(image))) {
      throw new LokiError('image_not_found', `image ${image} not found; build it with \`loki sandbox build\``);
    }
    this.engine ??= await this.o.driver.info();
    const hardening = await resolveHardening(
      { config: this.o.config, seccompPath: this.o.seccompPath, defaultUser: `${this.user.uid}:${this.user.gid}`, engineSupportsSeccomp: this.engine.seccomp, engineRuntimes: this.engine.runtimes },
      { relax: req.relax, limits: req.limits },
    );
    const id = `sbx-${randomBytes(6).toString('hex')}`;
    const workspace = req.workspace ?? (await this.makeWorkspace(id, req.relax.rootUser));
    const command = req.command.length
      ? req.command
      : ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];
    return this.o.driver.create(
      {
        id,
        name: req.name || id,
        owner: caller.subject,
        project: req.project,
        session: req.session ?? '',
        image,
        command,
        env: req.env,
        workspace,
        // The transports' own mounts, agent channel first; nothing else reaches the host.
        extraMounts: [...(req.agentChannel?.mounts ?? []), ...(runner?.mounts ?? [])],
        limits: { memoryBytes: hardening.summary.memoryBytes, cpus: hardening.summary.cpus, pids: hardening.summary.pids },
        relax: req.relax,
      },
      hardening,
    );
  }

  private async makeWorkspace(id: string, root: boolean): Promise<string> {
    const dir = join(this.o.workspacesDir, id);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    if (!root && typeof process.getuid === 'function' && process.getuid() === 0) {
      await chown(dir, this.user.uid, this.user.gid);
    }
    return dir;
  }

  /** Resolves an id or name to a sandbox the caller may see; unknown and not-yours look the same. */
  async get(caller: Caller, ref: string): Promise<SandboxInfo> {
    validateRef(ref);
    requireScope(caller, 'read');
    let info = SANDBOX_ID_RE.test(ref) ? await this.o.driver.get(ref) : undefined;
    if (!info) info = (await this.o.driver.list()).find((s) => s.name === ref);
    if (!info || !canAccessOwned(caller, info.owner)) throw new LokiError('sandbox_not_found', `no sandbox "${ref}"`);
    return info;
  }

  async list(caller: Caller, all: boolean): Promise<SandboxInfo[]> {
    requireScope(caller, 'read');
    const rows = await this.o.driver.list();
    return rows
      .filter((s) => canAccessOwned(caller, s.owner))
      .filter((s) => all || s.state === 'running' || s.state === 'paused' || s.state === 'created')
      .sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  async *logs(caller: Caller, ref: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogChunk> {
    if (opts.tail < 0 || opts.tail > 100_000) throw new LokiError('invalid_argument', 'tail must be between 0 and 100000');
    const info = await this.get(caller, ref);
    yield* this.o.driver.logs(info.id, opts, signal);
  }

  async exec(caller: Caller, ref: string, opts: Omit<ExecOptions, 'user'>): Promise<{ info: SandboxInfo; session: ExecSession }> {
    requireScope(caller, 'control');
    checkArgv('argv', opts.argv);
    checkEnv(opts.env);
    if (opts.workdir && (!opts.workdir.startsWith('/') || opts.workdir.includes('\0'))) {
      throw new LokiError('invalid_argument', 'workdir must be an absolute path');
    }
    if (opts.cols > 10_000 || opts.rows > 10_000) throw new LokiError('invalid_argument', 'terminal size out of range');
    const info = await this.get(caller, ref);
    if (info.state !== 'running') throw new LokiError('sandbox_not_running', `sandbox ${info.id} is ${info.state}, not running`);
    const argv = opts.argv.length ? opts.argv : ['/bin/bash', '-l'];
    const session = await this.o.driver.exec(info.id, { ...opts, argv, workdir: opts.workdir || SANDBOX_WORKSPACE, user: info.hardening.user || `${this.user.uid}:${this.user.gid}` });
    await this.audit(caller, 'sandbox.shell', `sandbox:${info.id}`, 'success', { argv: argv.slice(0, 16).map((a) => a.slice(0, 200)), tty: opts.tty });
    return { info, session };
  }

  async stop(caller: Caller, ref: string, timeoutSeconds: number, keep: boolean): Promise<{ info: SandboxInfo; removed: boolean }> {
    requireScope(caller, 'control');
    if (timeoutSeconds < 0 || timeoutSeconds > 3600) throw new LokiError('invalid_argument', 'timeout_seconds must be between 0 and 3600');
    const info = await this.get(caller, ref);
    const t = timeoutSeconds || this.o.config.stop_timeout_seconds;
    try {
      await this.o.driver.stop(info.id, t);
      if (!keep) await this.o.driver.remove(info.id, true);
    } catch (err) {
      await this.audit(caller, 'sandbox.stop', `sandbox:${info.id}`, 'error', {}, (err as Error).message);
      throw err;
    }
    await this.audit(caller, 'sandbox.stop', `sandbox:${info.id}`, 'success', { removed: !keep, timeout_seconds: t });
    const after = keep ? ((await this.o.driver.get(info.id)) ?? info) : { ...info, state: 'exited' as const };
    return { info: after, removed: !keep };
  }

  async remove(caller: Caller, ref: string, force: boolean): Promise<void> {
    requireScope(caller, 'control');
    const info = await this.get(caller, ref);
    if ((info.state === 'running' || info.state === 'paused') && !force) {
      throw new LokiError('failed_precondition', `sandbox ${info.id} is ${info.state}; stop it first or pass --force`);
    }
    await this.o.driver.remove(info.id, true);
    await this.audit(caller, 'sandbox.stop', `sandbox:${info.id}`, 'success', { removed: true, forced: force });
  }

  /**
   * Sandboxes of a session's own lifecycle. `caller` is the user who asked (scope
   * and ownership checked as for every other operation), or undefined for the
   * daemon itself (a session ending by itself, the idle check): then there is no
   * one to check and the audit entry says `system`.
   */
  async pause(caller: Caller | undefined, ref: string): Promise<SandboxInfo> {
    const can = this.o.driver.capabilities;
    if (!can.pause) throw new LokiError('failed_precondition', `the ${can.name} sandbox driver cannot pause a sandbox`);
    const info = await this.target(caller, ref);
    await this.audited(caller, 'sandbox.pause', info.id, {}, () => this.o.driver.pause(info.id));
    return { ...info, state: 'paused' };
  }

  async resume(caller: Caller | undefined, ref: string): Promise<SandboxInfo> {
    const info = await this.target(caller, ref);
    await this.audited(caller, 'sandbox.resume', info.id, {}, () => this.o.driver.unpause(info.id));
    return { ...info, state: 'running' };
  }

  /**
   * Ends a sandbox for good and is idempotent (a sandbox already gone is not an
   * error and leaves no entry): optionally waits for its main process to exit by
   * itself, unfreezes it, keeps the last lines of its output, then stops it
   * (`stopTimeoutSeconds`, or kills it when undefined) and removes it.
   */
  async teardown(caller: Caller | undefined, ref: string, opts: TeardownOptions = {}): Promise<{ info: SandboxInfo | undefined; tail: string }> {
    if (caller) requireScope(caller, 'control');
    validateRef(ref);
    if (opts.waitExitMs) await this.waitExit(ref, opts.waitExitMs);
    const info = await this.o.driver.get(ref);
    if (!info) return { info: undefined, tail: '' };
    if (caller && !canAccessOwned(caller, info.owner)) throw new LokiError('sandbox_not_found', `no sandbox "${ref}"`);
    let tail = '';
    const details = { removed: true, from: info.state, ...(opts.stopTimeoutSeconds !== undefined ? { timeout_seconds: opts.stopTimeoutSeconds } : { forced: true }) };
    await this.audited(caller, 'sandbox.stop', info.id, details, async () => {
      if (info.state === 'paused') await this.o.driver.unpause(info.id);
      if (opts.tailLines) tail = await this.logTail(info.id, opts.tailLines);
      if (opts.stopTimeoutSeconds !== undefined) await this.o.driver.stop(info.id, opts.stopTimeoutSeconds);
      await this.o.driver.remove(info.id, true);
    });
    return { info, tail };
  }

  /** How the driver carries a session's agent channel (sockets the daemon binds in `hostDir`) into its sandbox. */
  agentChannelMount(sessionId: string, hostDir: string): AgentChannelTransport {
    return this.o.driver.agentChannelMount(sessionId, hostDir);
  }

  /** Throws when a mount the daemon makes on the host would not reach the sandboxes (see SandboxDriver). */
  assertSeesHostMounts(): void {
    this.o.driver.assertSeesHostMounts();
  }

  /** Builds (or reuses) a sandbox image through the driver; the caller has checked the scope. */
  buildImage(req: ImageBuildRequest, onEvent: (e: ImageBuildEvent) => void, signal: AbortSignal): Promise<{ imageId: string; reused: boolean }> {
    return this.o.driver.buildImage(req, onEvent, signal);
  }

  /** The daemon's own read of a sandbox by id (supervision, re-attach after a restart); reads are not audited. */
  async lookup(id: string): Promise<SandboxInfo | undefined> {
    validateRef(id);
    return this.o.driver.get(id);
  }

  private async target(caller: Caller | undefined, ref: string): Promise<SandboxInfo> {
    if (caller) {
      requireScope(caller, 'control');
      return this.get(caller, ref);
    }
    const info = await this.lookup(ref);
    if (!info) throw new LokiError('sandbox_not_found', `no sandbox "${ref}"`);
    return info;
  }

  private async waitExit(id: string, maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (Date.now() < until) {
      const info = await this.o.driver.get(id);
      if (!info || info.state === 'exited' || info.state === 'dead') return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async logTail(id: string, lines: number): Promise<string> {
    const ac = new AbortController();
    const chunks: Buffer[] = [];
    try {
      for await (const c of this.o.driver.logs(id, { follow: false, tail: lines, timestamps: false }, ac.signal)) chunks.push(c.data);
    } catch {
      return '';
    }
    return Buffer.concat(chunks).toString('utf8').slice(-4000);
  }

  /** Runs one container operation and records it: success, or error with the reason (and rethrows). */
  private async audited(caller: Caller | undefined, action: string, id: string, details: Record<string, unknown>, op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (err) {
      await this.audit(caller, action, `sandbox:${id}`, 'error', details, (err as Error).message);
      throw err;
    }
    await this.audit(caller, action, `sandbox:${id}`, 'success', details);
  }

  /** `caller` undefined = the daemon itself. */
  private async audit(caller: Caller | undefined, action: string, resource: string, result: 'success' | 'denied' | 'error', details: Record<string, unknown>, reason?: string): Promise<void> {
    await this.o.audit.record({
      action,
      user: caller?.subject ?? 'system',
      resource,
      details,
      result,
      ...(caller ? { ip: caller.clientIp, request_id: caller.requestId } : {}),
      ...(reason ? { reason } : {}),
    });
  }
}
