// SessionManager: one agent on one project in one sandbox. Owns the session
// lifecycle (pending → starting → running ⇄ paused, running ⇄ waiting_approval,
// terminal completed | failed | stopped), its limits and its event log. Every
// transition is written to the store before anyone is told about it. When to end
// a session on its own is supervisor.ts's call; the read side is queries.ts.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { LokiError, checkRef, counted, formatBytes, type Logger } from '../../../common/src/index.js';
import type { ModelProxies } from '../agent/model-proxies.js';
import type { AgentChannelHooks, AgentChannels } from '../agent/types.js';
import type { AuditLog } from '../audit/types.js';
import type { Project, ProjectRegistry } from '../git/projects.js';
import type { AgentTrail } from '../git/trail.js';
import type { WorkspaceManager, Workspace } from '../git/workspaces.js';
import type { WorkspaceFill } from '../git/workspace-fill.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { ApprovalWaits } from '../policy/approval-waits.js';
import type { PolicyService } from '../policy/service.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { RunnerBundle } from '../sandbox/types.js';
import type { SessionsConfig } from './config.js';
import { LearningStore, type LearningRepo } from '../registry/learnings.js';
import { SessionAgentHooks } from './hooks.js';
import { SessionRuntime } from './runtime.js';
import type { SessionRepo } from './repo.js';
import { ModelUpstreams } from './upstreams.js';
import { SessionCleanup } from './cleanup.js';
import { SessionSupervisor } from './supervisor.js';
import { SessionQueries, type EventQuery, type ListPageQuery, type SessionMetricsSnapshot } from './queries.js';
import { WorkspaceVolumes } from './workspace-volume.js';
import { ACTIVE_STATES, isTerminal, type Session, type SessionEvent, type StartSessionInput } from './types.js';
import { checkAutonomy, checkProfile, checkProvider, checkStartInput, concurrencyLimit, normalizePlan, readPrd, resolveProject } from './validate.js';

import { SESSION_ID_RE } from '../../../common/src/vocab.js';

export { SESSION_ID_RE };

export interface SessionManagerOptions {
  /** Sessions and their event log (store/sqlite/sessions.ts). */
  repo: SessionRepo;
  learnings: LearningRepo;
  /** Every container operation of a session goes through it (ownership checks, audit). */
  sandboxes: SandboxManager;
  /** Builds the per-session agent channels around the manager's hooks (`createAgentChannels`). */
  createChannels: (hooks: AgentChannelHooks) => AgentChannels;
  /** The agent-runner bundle (`agentRunnerBundle`), carried in by the sandbox driver; omitted when `runner_command` needs none. */
  runner?: RunnerBundle;
  /** The sessions' host-side model proxies (built by daemon.ts, which closes them all at shutdown). */
  proxies: ModelProxies;
  /** Decides waiting for a human (the policy feature's); a stop cancels the session's. */
  waits: ApprovalWaits;
  projects: ProjectRegistry;
  workspaces: WorkspaceManager;
  trail: AgentTrail;
  policy: PolicyService;
  audit: AuditLog;
  config: SessionsConfig;
  log: Logger;
  clock?: () => number;
  /** Where `api_key_env` keys are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** `$LOKI_HOME/workspaces`: size-limited workspace images live in its `.images/`. */
  workspacesDir: string;
}

export class SessionManager {
  readonly store: SessionRepo;
  readonly channels: AgentChannels;
  readonly upstreams: ModelUpstreams;
  readonly volumes: WorkspaceVolumes;
  private readonly cleanup: SessionCleanup;
  private readonly queries: SessionQueries;
  private readonly rt: SessionRuntime;
  private readonly o: SessionManagerOptions;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly supervisor: SessionSupervisor;
  /** Sessions whose start() is under way in this process. */
  private readonly launching = new Set<string>();

  constructor(opts: SessionManagerOptions) {
    for (const k of ['repo', 'learnings', 'sandboxes', 'createChannels', 'proxies', 'waits', 'projects', 'workspaces', 'trail', 'policy', 'audit', 'config', 'log', 'workspacesDir'] as const) {
      if (!opts[k]) throw new Error(`SessionManager: missing dependency ${k}`);
    }
    this.o = opts;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.log;
    this.upstreams = new ModelUpstreams(opts.config, opts.env ?? process.env);
    this.store = opts.repo;
    this.rt = new SessionRuntime({ store: this.store, emitter: new EventEmitter(), log: opts.log, clock: this.clock, audit: opts.audit });
    const ws = opts.config.workspace;
    this.volumes = new WorkspaceVolumes({ workspacesDir: opts.workspacesDir, maxBytes: ws.max_size, enforce: ws.enforce, minFreeBytes: ws.min_free, owner: opts.sandboxes.sandboxUser, checkMountsReachSandboxes: () => opts.sandboxes.assertSeesHostMounts(), log: opts.log });
    this.cleanup = new SessionCleanup({ rt: this.rt, sandboxes: opts.sandboxes, volumes: this.volumes, workspaces: opts.workspaces, retentionHours: ws.retention_hours, clock: this.clock, log: opts.log });
    this.queries = new SessionQueries({ store: this.store, rt: this.rt, policy: opts.policy, config: opts.config, get: (caller, id) => this.get(caller, id) });
    this.channels = opts.createChannels(new SessionAgentHooks({ rt: this.rt, policy: opts.policy, waits: opts.waits, proxies: opts.proxies, trail: opts.trail, config: opts.config, audit: opts.audit, learnings: new LearningStore(opts.learnings), onFinished: (id) => this.onRunnerFinished(id) }));
    this.supervisor = new SessionSupervisor({
      store: this.store,
      rt: this.rt,
      sandboxes: opts.sandboxes,
      workspaces: opts.workspaces,
      volumes: this.volumes,
      channels: this.channels,
      upstreams: this.upstreams,
      proxies: opts.proxies,
      cleanup: this.cleanup,
      config: opts.config,
      log: opts.log,
      clock: this.clock,
      finalize: (id, to, reason) => this.finalize(id, to, reason),
      launching: (id) => this.launching.has(id),
      requestStop: (id, reason) => this.requestStop(undefined, id, reason),
    });
  }

  /** Sessions, by id, that the caller may see (unknown and not-yours look the same). */
  async get(caller: Caller, id: string, scope: 'read' | 'control' = 'read'): Promise<Session> {
    requireScope(caller, scope);
    checkRef('session', id);
    const s = await this.store.get(id);
    if (!s || !canAccessOwned(caller, s.owner)) throw new LokiError('session_not_found', `no session "${id}"`);
    return s;
  }

  async list(caller: Caller, all: boolean): Promise<Session[]> {
    requireScope(caller, 'read');
    const rows = all ? await this.store.list() : await this.store.listByStates(ACTIVE_STATES);
    return rows.filter((s) => canAccessOwned(caller, s.owner));
  }

  /** One page of `list` (keyset: the same cost at any depth). */
  listPage(caller: Caller, q: ListPageQuery): Promise<{ sessions: Session[]; nextPageToken: string }> {
    return this.queries.listPage(caller, q);
  }

  async start(caller: Caller, input: StartSessionInput): Promise<Session> {
    requireScope(caller, 'control');
    const cfg = this.o.config;
    checkStartInput(input, cfg.max_prompt_bytes);
    const provider = checkProvider(input.provider || cfg.default_provider);
    const autonomy = checkAutonomy(input.autonomy);
    const profile = checkProfile(this.o.policy.engine, input.profile);
    const planJson = normalizePlan(provider, input.plan);
    const model = input.model || (provider === 'openai' ? cfg.openai.model : '');
    const upstream = this.upstreams.choose(caller, provider, { upstream: input.upstream ?? '', baseUrl: input.baseUrl });
    if (provider === 'openai' && !model) throw new LokiError('invalid_argument', 'the openai provider needs a model (--model, or sessions.openai.model)');
    const project = await resolveProject(this.o.projects, caller, input, this.o.workspaces.gitConfig.shared_projects);
    const prompt = input.prd ? readPrd(caller, input.prd, project.path, cfg.max_prompt_bytes) : { text: input.prompt, source: 'inline' };
    // Two keys for a sandbox network: refused here, before a session, workspace or sandbox exists.
    await this.o.sandboxes.checkRelaxations(caller, { relax: { network: input.network, writableRootfs: false, rootUser: false }, name: '', project: project.name });
    this.volumes.checkFreeSpace();
    // A warm pool slot is picked before the session exists: the session takes the slot's id, whose agent
    // directory and workspace volume are already at that session's paths (a start mounts nothing).
    const slot = this.o.sandboxes.reserveSlot({ image: provider === 'claude' ? cfg.claude_image : '', network: input.network });
    const id = slot?.sessionId ?? `ses-${randomBytes(6).toString('hex')}`;
    // The limit is checked inside the insert's transaction: two concurrent starts cannot both pass it.
    const limit = concurrencyLimit(cfg.max_concurrent);
    // Marked before the insert, so the supervisor never takes this start for an abandoned one.
    this.launching.add(id);
    const s = await this.store.insert({
      id,
      owner: caller.subject,
      provider,
      profile,
      autonomy,
      projectId: project.id,
      promptSource: prompt.source,
      prompt: prompt.text,
      planJson,
      model,
      baseUrl: upstream.baseUrl,
      upstream: upstream.name,
      maxIterations: input.maxIterations || cfg.default_max_iterations,
      network: input.network,
    }, limit).catch(async (err: unknown) => {
      this.launching.delete(id);
      await slot?.cancel();
      throw err;
    });
    this.rt.events.notify();
    // Made durable while the workspace is made, and awaited before the sandbox starts: nothing runs
    // for the session before its audit entry is on disk (the fsync is off the start's critical path).
    const audited = this.rt.auditAs(caller, 'session.start', id, 'success', { provider, profile, autonomy, project: project.name, prd: prompt.source, ...(upstream.baseUrl ? { upstream: upstream.name || upstream.baseUrl } : {}) });
    audited.catch(() => undefined);
    try {
      await this.launch(caller, s, project, audited, slot?.fill);
    } catch (err) {
      await audited.catch(() => undefined);
      await slot?.cancel();
      const why = err instanceof Error ? err.message : String(err);
      await this.finalize(id, 'failed', `could not start: ${why}`);
      if (err instanceof LokiError) throw new LokiError(err.code, `session ${id} failed to start: ${err.message}`, { cause: err });
      throw err;
    } finally {
      // If even the failed start could not be ended (the audit log unwritable), the supervisor ends it later.
      this.launching.delete(id);
    }
    return (await this.store.get(id))!;
  }

  private async launch(caller: Caller, s: Session, project: Project, audited: Promise<void>, fill?: WorkspaceFill): Promise<void> {
    await this.rt.events.transition(s.id, ['pending'], 'starting', 'creating the workspace and sandbox');
    const ws = await this.createWorkspace(s, project, fill);
    await this.store.setRuntime(s.id, { workspace: ws.path, branch: ws.branch });
    const how = await this.volumes.limit(s.id, ws.path);
    if (how !== 'none') await this.rt.events.append(s.id, 'workspace_limit', `workspace limited to ${formatBytes(this.o.config.workspace.max_size)} (${how === 'mount' ? 'its own file system' : 'watched by the daemon'})`, { max_bytes: this.o.config.workspace.max_size, enforce: how });
    await this.rt.events.append(s.id, 'workspace', `workspace on branch ${ws.branch}`, { branch: ws.branch, base_branch: ws.baseBranch, base_commit: ws.baseCommit, project: project.name });
    const channel = await this.channels.open(s.id);
    await this.upstreams.openProxy(this.o.proxies, s, channel.hostDir);
    await audited;
    const box = await this.o.sandboxes.start(caller, {
      name: `session-${s.id}`,
      project: project.name,
      // Claude Code is installed only in the image built on request (`loki sandbox build --with-claude`).
      image: s.provider === 'claude' ? this.o.config.claude_image : '',
      command: [...this.o.config.runner_command],
      env: { LOKI_AGENT_SOCKET: channel.socketInSandbox, LOKI_SESSION_ID: s.id },
      limits: {},
      relax: { network: s.network, writableRootfs: false, rootUser: false },
      session: s.id,
      workspace: ws.path,
      agentChannel: channel.transport,
      ...(this.o.runner ? { runner: this.o.runner } : {}),
    }).catch((err: unknown) => {
      // The sandbox manager's hint builds the base image, which has no Claude Code.
      if (s.provider === 'claude' && err instanceof LokiError && err.code === 'image_not_found') {
        throw new LokiError('image_not_found', `image ${this.o.config.claude_image} not found; build it with \`loki sandbox build --with-claude\``, { cause: err });
      }
      throw err;
    });
    await this.store.setRuntime(s.id, { sandboxId: box.id });
    await this.rt.events.transition(s.id, ['starting'], 'running', 'sandbox started', { data: { sandbox: box.id, branch: ws.branch } });
  }

  /**
   * Concurrent starts run their workspaces in parallel: the branch name has a random
   * part (`loki/session-<s>-<pid>-<random>`), so two starts in one second no longer
   * race for one name (they did, and all but one failed on the UNIQUE branch); the
   * retry covers the rare collision or a hand-made branch of that name.
   */
  private async createWorkspace(s: Session, project: Project, fill?: WorkspaceFill): Promise<Workspace> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.o.workspaces.createWorkspace({ project: project.id, sessionId: s.id, owner: s.owner, ...(fill ? { fill } : {}) });
      } catch (err) {
        if (!(err instanceof LokiError) || err.code !== 'ref_exists' || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 1000 - (this.clock() % 1000) + 10));
      }
    }
  }

  async stop(caller: Caller, id: string): Promise<Session> {
    const s = await this.get(caller, id, 'control');
    if (isTerminal(s.state)) return s;
    await this.rt.auditAs(caller, 'session.stop', id, 'success', { from: s.state });
    await this.requestStop(caller, id, `stopped by ${caller.subject}`);
    const waitMs = (this.o.config.stop_grace_seconds + 15) * 1000;
    await this.rt.events.waitFor(id, (x) => isTerminal(x.state), waitMs);
    return (await this.store.get(id))!;
  }

  /** Asks the runner to finish (stop_requested in its next Report/Heartbeat reply), then stops the container after the grace period. */
  private async requestStop(caller: Caller | undefined, id: string, reason: string): Promise<void> {
    // The flag is a compare-and-set: of two concurrent stops exactly one announces it.
    if (await this.store.requestStop(id)) {
      await this.rt.events.append(id, 'stop_requested', reason, { grace_seconds: this.o.config.stop_grace_seconds });
    }
    // Read after the flag is set: a pause recorded before it is thawed here, one recorded after it thaws itself.
    const s = (await this.store.get(id))!;
    // A frozen runner cannot hear the request.
    if (s.state === 'paused' && s.sandboxId) {
      await this.o.sandboxes.resume(caller, s.sandboxId).catch((err: unknown) => this.log.warn({ err, session_id: id }, 'unpause before stop failed'));
      await this.rt.events.transition(id, ['paused'], 'running', 'resumed so the runner can finish');
    }
    this.o.waits.cancel(id);
    this.rt.timers.schedule(id, this.o.config.stop_grace_seconds * 1000, () => void this.finalize(id, 'stopped', reason));
  }

  async pause(caller: Caller, id: string): Promise<Session> {
    const s = await this.get(caller, id, 'control');
    if (s.state !== 'running' && s.state !== 'waiting_approval') throw new LokiError('session_not_active', `session ${id} is ${s.state}; only a running session can be paused`);
    if (s.stopRequested) throw new LokiError('session_not_active', `session ${id} is stopping; a stop was requested, so it cannot be paused`);
    // Pausing freezes every process in the sandbox (a driver capability): the runner stops mid-step.
    await this.o.sandboxes.pause(caller, s.sandboxId);
    const paused = await this.rt.events.transition(id, ['running', 'waiting_approval'], 'paused', `paused by ${caller.subject}`);
    const now = (await this.store.get(id))!;
    if (!paused || now.stopRequested) {
      // A stop (or the session's end) won the race: a frozen runner could not hear it.
      await this.o.sandboxes.resume(caller, s.sandboxId).catch((err: unknown) => this.log.warn({ err, session_id: id }, 'thawing after a lost pause failed'));
      if (paused) await this.rt.events.transition(id, ['paused'], 'running', 'resumed: a stop was requested while pausing');
      throw new LokiError('session_not_active', `session ${id} is ${now.stopRequested ? 'stopping; a stop was requested while pausing' : now.state}; it was not paused`);
    }
    await this.rt.auditAs(caller, 'session.pause', id, 'success', {});
    return (await this.store.get(id))!;
  }

  /**
   * Resumes a paused session. Like Loki Mode, `resume` on a session waiting at
   * a staged-autonomy checkpoint (an approval asked by `mode:…`) approves it.
   */
  async resume(caller: Caller, id: string): Promise<Session> {
    const s = await this.get(caller, id, 'control');
    if (s.state === 'paused') {
      await this.o.sandboxes.resume(caller, s.sandboxId);
      const to = this.o.waits.count(id) > 0 ? 'waiting_approval' : 'running';
      await this.rt.events.transition(id, ['paused'], to, `resumed by ${caller.subject}`);
      await this.rt.auditAs(caller, 'session.resume', id, 'success', {});
    } else if (s.state !== 'waiting_approval') {
      throw new LokiError('session_not_active', `session ${id} is ${s.state}; nothing to resume`);
    }
    if ((await this.store.get(id))!.state === 'waiting_approval') {
      const staged = (await this.o.policy.listApprovals({ sessionId: id, status: 'pending' })).filter((a) => a.askedBy.startsWith('mode:'));
      for (const a of staged) await this.o.policy.decideApproval(a.id, true, caller.subject, 'approved by resume', caller.requestId, caller.clientIp);
      if (s.state !== 'paused') await this.rt.auditAs(caller, 'session.resume', id, 'success', { approved: staged.map((a) => a.id) });
    }
    return (await this.store.get(id))!;
  }

  /** Replays events after the cursor, then (with follow) streams new ones until the session ends or the caller goes away. */
  events(caller: Caller, q: EventQuery, signal: AbortSignal): AsyncGenerator<SessionEvent> {
    return this.queries.events(caller, q, signal);
  }

  metrics(caller: Caller): Promise<SessionMetricsSnapshot> {
    return this.queries.metrics(caller);
  }

  /** After a daemon restart: re-attach to running sandboxes and re-open their agent channels (the runner reconnects to the same path). */
  reconcile(): Promise<void> {
    return this.supervisor.reconcile();
  }

  /** `loki sessions rm ID`: removes an ended session's workspace and container (audited). */
  async remove(caller: Caller, id: string): Promise<{ session: Session; freedBytes: number }> {
    const s = await this.get(caller, id, 'control');
    const freedBytes = await this.cleanup.removeOne(caller, s);
    return { session: (await this.store.get(id))!, freedBytes };
  }

  /** `loki sessions prune [--older-than]`: removes the workspaces of ended sessions the caller may control. */
  prune(caller: Caller, olderThanMs: number, dryRun: boolean): Promise<{ removed: string[]; freedBytes: number }> {
    return this.cleanup.prune(caller, olderThanMs, dryRun);
  }

  /** Starts the stall / idle / exited-container checks. */
  startChecks(): void {
    this.supervisor.start();
  }

  private onRunnerFinished(id: string): void {
    // finalize re-reads the session and ends it once (single-flight); the terminal transition is a compare-and-set.
    const end = async () => {
      const s = await this.store.get(id);
      if (!s || isTerminal(s.state)) return;
      await this.finalize(id, s.stopRequested ? 'stopped' : 'completed', s.stopRequested ? s.reason || 'stopped' : '');
    };
    end().catch((err: unknown) => this.log.error({ err, session_id: id }, 'ending a finished session failed'));
  }

  /** Ends a session once: stop the container, bring the branch back (diff summary), close the channel, record the terminal state. */
  finalize(id: string, to: 'completed' | 'failed' | 'stopped', reason: string): Promise<void> {
    return this.rt.timers.once(id, async () => {
      const s = await this.store.get(id);
      if (!s || isTerminal(s.state)) return;
      if (s.sandboxId) await this.endSandbox(s, to);
      if (s.workspace) {
        try {
          const r = await this.o.workspaces.finish(id);
          const sum = r.summary;
          await this.rt.events.append(id, 'diff_summary', `${counted(sum.commits.length, 'commit')}, ${counted(sum.filesChanged, 'file')} changed (+${sum.insertions} -${sum.deletions}) on ${sum.branch}`, {
            branch: sum.branch,
            head: sum.headCommit,
            commits: sum.commits.length,
            files_changed: sum.filesChanged,
            insertions: sum.insertions,
            deletions: sum.deletions,
            files: sum.files.slice(0, 50).map((f) => f.path),
            pull_request: r.pullRequest.url || null,
          });
          // The PR step never fails silently: when one was asked for (or opened), say what happened and how to do it by hand.
          const pr = r.pullRequest;
          if (pr.opened || this.o.workspaces.gitConfig.auto_pr) {
            await this.rt.events.append(id, 'pull_request', pr.opened ? `pull request opened: ${pr.url}` : `pull request not opened: ${pr.reason}`, { opened: pr.opened, url: pr.url || null, reason: pr.reason || null, commands: pr.commands });
          }
          if (r.exportRefused) await this.rt.events.append(id, 'error', `the agent audit trail was not exported to the project: ${r.exportRefused}`, {});
        } catch (err) {
          await this.rt.events.append(id, 'error', `could not bring the session branch back: ${(err as Error).message}`, {});
        }
      }
      await this.channels.close(id).catch((err: unknown) => this.log.warn({ err, session_id: id }, 'closing the agent channel failed'));
      await this.o.proxies.close(id);
      // Audited before the state changes: whoever sees the terminal state can find its audit entry.
      await this.rt.auditAs(undefined, 'session.stop', id, to === 'failed' ? 'error' : 'success', { state: to }, reason);
      await this.rt.events.transition(id, ACTIVE_STATES, to, to === 'completed' ? 'the runner finished' : reason, reason ? { reason } : {});
    });
  }

  private async endSandbox(s: Session, to: string): Promise<void> {
    try {
      // A completing runner exits by itself; give it a moment before stopping the container.
      const { tail } = await this.o.sandboxes.teardown(undefined, s.sandboxId, {
        ...(to === 'completed' ? { waitExitMs: 10_000 } : {}),
        ...(to === 'failed' ? { tailLines: 30 } : {}),
        stopTimeoutSeconds: 2,
      });
      if (tail) await this.rt.events.append(s.id, 'log', 'last lines of the sandbox output', { tail });
    } catch (err) {
      this.log.warn({ err, session_id: s.id }, 'stopping the session sandbox failed');
    }
  }

  async close(): Promise<void> {
    this.supervisor.stop();
    this.rt.close();
    // A Decide waiting for a human ends now; the runner asks again after a restart (the approval stays).
    this.o.waits.cancelAll();
    // Sandboxes keep running: a restarted daemon re-attaches (reconcile). Their model proxies close with the daemon (daemon.ts).
    await this.channels.closeAll();
  }
}
