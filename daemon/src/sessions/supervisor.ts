// Supervision of running sessions: re-attach after a daemon restart, and the
// periodic checks (an exited container, idle and stalled runners, workspaces over
// their limit, retention of ended sessions' leftovers). Ending a session is the
// lifecycle's job (SessionManager.finalize/requestStop); this only decides when.
import { LokiError, needsEscape, type Logger } from '../../../common/src/index.js';
import type { ModelProxies } from '../agent/model-proxies.js';
import type { AgentChannels } from '../agent/types.js';
import type { WorkspaceManager } from '../git/workspaces.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { SessionCleanup } from './cleanup.js';
import type { SessionsConfig } from './config.js';
import type { SessionRuntime } from './runtime.js';
import type { SessionRepo } from './repo.js';
import type { ModelUpstreams } from './upstreams.js';
import type { WorkspaceVolumes } from './workspace-volume.js';
import { ACTIVE_STATES, type Session, type SessionState } from './types.js';

/** States with a sandbox the supervisor watches. */
const LIVE: readonly SessionState[] = ['running', 'paused', 'waiting_approval'];

export interface SessionSupervisorOptions {
  store: SessionRepo;
  rt: SessionRuntime;
  sandboxes: SandboxManager;
  /** Where a start cut off by a crash may have left a workspace it had not yet noted in the session. */
  workspaces: Pick<WorkspaceManager, 'get' | 'discardUnrecorded'>;
  volumes: Pick<WorkspaceVolumes, 'recoverInterruptedMount'>;
  channels: AgentChannels;
  upstreams: ModelUpstreams;
  proxies: ModelProxies;
  cleanup: SessionCleanup;
  config: SessionsConfig;
  log: Logger;
  clock: () => number;
  finalize: (id: string, to: 'completed' | 'failed' | 'stopped', reason: string) => Promise<void>;
  /** True while this process is still starting the session (SessionManager.start). */
  launching: (id: string) => boolean;
  /** Asks the runner to finish, then stops the container after the grace period (the daemon asking). */
  requestStop: (id: string, reason: string) => Promise<void>;
}

export class SessionSupervisor {
  private ticker: NodeJS.Timeout | undefined;
  private ticking = false;
  /** The last lookup failed: warned once per outage, not on every tick. */
  private engineUnreachable = false;

  constructor(private readonly o: SessionSupervisorOptions) {}

  /** Sessions found active after a restart while Docker could not be asked: re-attached on a later tick. */
  private readonly awaitingEngine = new Set<string>();

  /** After a daemon restart: re-attach to running sandboxes and re-open their agent channels (the runner reconnects to the same path). */
  async reconcile(): Promise<void> {
    for (const s of await this.o.store.listByStates(ACTIVE_STATES)) await this.tryReattach(s);
  }

  /** Re-attaches one session; if Docker cannot be asked, it keeps the session as it is and tries again next tick. */
  /**
   * Why the runner said it failed, when it did: its last `error` event among the session's last events
   * (the runner reports it just before it exits). Agent text: one line, characters a terminal or the
   * audit log would act on replaced, cut to 300 with a count.
   */
  private async runnerError(id: string, eventsTotal: number): Promise<string | undefined> {
    const recent = await this.o.store.events(id, Math.max(0, eventsTotal - 50), 50);
    const last = recent.filter((e) => e.type === 'error').at(-1);
    if (!last?.message) return undefined;
    const line = [...(last.message.split('\n', 1)[0] ?? '')].map((ch) => (needsEscape(ch.codePointAt(0)!) ? '\ufffd' : ch));
    const text = line.length > 300 ? `${line.slice(0, 300).join('')}… [+${line.length - 300} chars]` : line.join('');
    return `the runner failed: ${text}`;
  }

  /**
   * The runner reported `finished` (an event acknowledged and recorded): the session completed, even when
   * its end was cut off (the daemon died while stopping the container or bringing the branch back) and the
   * container is gone or exited now. Before, such a session ended `failed`.
   */
  private async runnerFinished(id: string, eventsTotal: number): Promise<boolean> {
    const recent = await this.o.store.events(id, Math.max(0, eventsTotal - 50), 50);
    return recent.some((e) => e.type === 'finished');
  }

  private async tryReattach(s: Session): Promise<void> {
    try {
      await this.reattach(s);
      this.awaitingEngine.delete(s.id);
    } catch (err) {
      if (err instanceof LokiError && err.code === 'docker_unavailable') {
        if (!this.awaitingEngine.has(s.id)) this.o.log.warn({ err, session_id: s.id }, 'cannot ask Docker about the session sandbox; re-attaching when it answers');
        this.awaitingEngine.add(s.id);
        return;
      }
      this.awaitingEngine.delete(s.id);
      this.o.log.error({ err, session_id: s.id }, 'could not re-attach a session');
      await this.o.finalize(s.id, 'failed', `could not re-attach after a daemon restart: ${(err as Error).message}`);
    }
  }

  /**
   * A start that died between two steps made things it had not yet noted in the session: the workspace
   * (record, branch, size-limited file system) is noted before the sandbox starts, the container's id
   * only after it runs. Noted now, so ending the session stops the container, ends the workspace
   * (its project can be unregistered) and `loki sessions rm` / retention remove them like any
   * ended session's; before, they were left for good (a running container, a mounted image,
   * a project that could never be removed). A size-limit mount it was making is finished or rolled back; a clone it never recorded is deleted.
   */
  private async adoptStartLeftovers(s: Session): Promise<void> {
    let workspace = s.workspace;
    if (!workspace) {
      const ws = await this.o.workspaces.get(s.id).catch((err: unknown) => {
        if (err instanceof LokiError && err.code === 'workspace_not_found') return undefined;
        throw err;
      });
      if (ws) await this.o.store.setRuntime(s.id, { workspace: ws.path, branch: ws.branch });
      else await this.o.workspaces.discardUnrecorded(s.id);
      workspace = ws?.path ?? '';
    }
    if (workspace) this.o.volumes.recoverInterruptedMount(s.id, workspace);
    if (!s.sandboxId) {
      const [box, ...more] = await this.o.sandboxes.sessionSandboxes(s.id);
      if (box) await this.o.store.setRuntime(s.id, { sandboxId: box.id });
      for (const extra of more) await this.o.sandboxes.teardown(undefined, extra.id, { stopTimeoutSeconds: 2 });
    }
  }

  private async reattach(s: Session): Promise<void> {
    if (s.state === 'pending' || s.state === 'starting') {
      await this.adoptStartLeftovers(s);
      await this.o.finalize(s.id, 'failed', 'the daemon restarted while the session was starting');
      return;
    }
    const info = s.sandboxId ? await this.o.sandboxes.lookup(s.sandboxId) : undefined;
    if (!info || (info.state !== 'running' && info.state !== 'paused')) {
      if (!s.stopRequested && (await this.runnerFinished(s.id, s.eventsTotal))) await this.o.finalize(s.id, 'completed', '');
      else await this.o.finalize(s.id, s.stopRequested ? 'stopped' : 'failed', `the sandbox ${info ? `is ${info.state}` : 'is gone'} after a daemon restart`);
      return;
    }
    const channel = await this.o.channels.open(s.id);
    await this.o.upstreams.openProxy(this.o.proxies, s, channel.hostDir);
    // A Decide that was waiting died with the old process; the runner asks again and the pending approval is reused.
    if (s.state === 'waiting_approval') await this.o.rt.events.transition(s.id, ['waiting_approval'], 'running', 'daemon restarted; waiting for the runner to ask again');
    if (info.state === 'paused') await this.o.rt.events.transition(s.id, ['running'], 'paused', 'the sandbox is paused');
    else await this.o.rt.events.transition(s.id, ['paused'], 'running', 'the sandbox is running');
    await this.o.rt.events.append(s.id, 'reattached', 'daemon restarted and re-attached to the sandbox', { sandbox: info.id });
    if (s.stopRequested) this.o.rt.timers.schedule(s.id, this.o.config.stop_grace_seconds * 1000, () => void this.o.finalize(s.id, 'stopped', s.reason || 'stop requested before the daemon restarted'));
  }

  /** Starts the stall / idle / exited-container checks. */
  start(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => void this.check(), this.o.config.check_interval_ms);
    this.ticker.unref();
  }

  private async check(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = this.o.clock();
      const cfg = this.o.config;
      // A start that failed and could not even record its end (the audit log unwritable) left its session
      // pending or starting with nothing starting it: end it, again each tick until the end is recorded.
      for (const s of await this.o.store.listByStates(['pending', 'starting'])) {
        if (this.o.launching(s.id) || this.o.rt.timers.finishing(s.id)) continue;
        await this.adoptStartLeftovers(s)
          .then(() => this.o.finalize(s.id, 'failed', 'its start failed and could not be ended then'))
          .catch((err: unknown) => this.o.log.warn({ err, session_id: s.id }, 'ending a failed start failed; retrying'));
      }
      for (const id of [...this.awaitingEngine]) {
        const s = await this.o.store.get(id);
        if (s && ACTIVE_STATES.includes(s.state)) await this.tryReattach(s);
        else this.awaitingEngine.delete(id);
      }
      for (const listed of await this.o.store.listByStates(LIVE)) {
        if (this.o.rt.timers.finishing(listed.id) || this.awaitingEngine.has(listed.id)) continue;
        let info: Awaited<ReturnType<SandboxManager['lookup']>>;
        try {
          info = listed.sandboxId ? await this.o.sandboxes.lookup(listed.sandboxId) : undefined;
        } catch (err) {
          // Docker could not be asked (dockerd restarting, socket gone): that says nothing about the
          // container, so the session is left as it is and checked again on the next tick.
          if (!this.engineUnreachable) this.o.log.warn({ err, session_id: listed.id }, 'cannot ask Docker about session sandboxes; checking again');
          this.engineUnreachable = true;
          continue;
        }
        this.engineUnreachable = false;
        // Acted on as it is now, not as listed: it may have been paused, stopped or ended while Docker answered.
        const s = await this.o.store.get(listed.id);
        if (!s || !LIVE.includes(s.state) || this.o.rt.timers.finishing(s.id)) continue;
        if (!info || info.state === 'exited' || info.state === 'dead') {
          const code = info ? ` with code ${info.exitCode}` : '';
          if (s.stopRequested) await this.o.finalize(s.id, 'stopped', s.reason || 'stopped');
          else if (await this.runnerFinished(s.id, s.eventsTotal)) await this.o.finalize(s.id, 'completed', '');
          else await this.o.finalize(s.id, 'failed', (await this.runnerError(s.id, s.eventsTotal)) ?? `the sandbox exited${code} before the runner finished`);
          continue;
        }
        if (s.state !== 'running') continue; // waiting for a human or frozen: never a stall
        const quiet = now - s.lastEventAtMs;
        if (cfg.idle_timeout_seconds && quiet > cfg.idle_timeout_seconds * 1000 && !s.stopRequested) {
          await this.o.requestStop(s.id, `idle for ${Math.round(quiet / 1000)}s (sessions.idle_timeout_seconds = ${cfg.idle_timeout_seconds})`);
        } else if (cfg.stall_seconds && quiet > cfg.stall_seconds * 1000 && !this.o.rt.events.stalled(s.id)) {
          await this.o.rt.events.append(s.id, 'stall', `no event for ${Math.round(quiet / 1000)}s`, { quiet_seconds: Math.round(quiet / 1000), threshold_seconds: cfg.stall_seconds }, { markStalled: true });
        }
      }
      for (const over of await this.o.cleanup.overLimit(await this.o.store.listByStates(LIVE))) {
        // No grace period: the agent is filling the disk.
        await this.o.finalize(over.id, 'stopped', over.reason);
      }
      await this.o.cleanup.expire();
    } catch (err) {
      this.o.log.warn({ err }, 'session check failed');
    } finally {
      this.ticking = false;
    }
  }

  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
