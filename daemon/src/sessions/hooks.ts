// The daemon's answers to the agent-runner (AgentChannelHooks). The session id
// always comes from the socket the call arrived on; profile, owner and mode come
// from the stored session, never from the runner. Every action is decided by
// the policy engine and appended to the session's agent trail by the daemon.
import { posix } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import type { ModelProxies } from '../agent/model-proxies.js';
import type { AgentActionRequest, AgentChannelHooks, AgentDecision, AgentEventData, SessionBriefData } from '../agent/types.js';
import type { AuditLog } from '../audit/types.js';
import type { AgentTrail } from '../git/trail.js';
import type { LearningStore } from '../registry/learnings.js';
import { DAEMON_CLOSING, RUNNER_REPLACED, type ApprovalWaits } from '../policy/approval-waits.js';
import type { Action, DecideContext } from '../policy/engine.js';
import { approvalReason, type PolicyService } from '../policy/service.js';
import { AgentReports, QuotaNotes, quotaError, serialPerSession } from './agent-reports.js';
import type { SessionsConfig } from './config.js';
import { answeredBefore, answerOf, consumer, isCurrent, numbered, type Asked } from './numbered-decides.js';
import type { SessionRuntime } from './runtime.js';
import { consumeOverride, overrideAllow, requestModeApproval, withSessionMode } from './session-mode.js';
import { isTerminal, sessionWorkspace, type Session } from './types.js';

/** What the openai runner calls on the model socket: a path prefix, never the upstream's real URL. */
export const MODEL_PROXY_BASE_URL = 'http://model-proxy.loki.invalid/v1';

export interface SessionAgentHooksOptions {
  rt: SessionRuntime;
  policy: PolicyService;
  /** Decides waiting for a human (cancelled when the session stops). */
  waits: ApprovalWaits;
  /** Whether a session has its model proxy (the brief then names the model socket). */
  proxies: Pick<ModelProxies, 'has'>;
  trail: AgentTrail;
  config: SessionsConfig;
  audit: AuditLog;
  onFinished: (sessionId: string) => void;
  /** Where `learning` events are recorded; without it they are plain events. */
  learnings?: LearningStore;
}

function target(a: Action): string {
  switch (a.kind) {
    case 'shell':
      return a.command;
    case 'commit':
      return a.message;
    case 'phase':
      return a.name;
    default:
      return a.path;
  }
}

export class SessionAgentHooks implements AgentChannelHooks {
  /** Paths written in each session (sourcing one of them fails closed in the shell analysis). */
  private readonly written = new Map<string, Set<string>>();
  /** Per session, the tail of the serialised approval asks (see serialPerSession). */
  private readonly asks = new Map<string, Promise<void>>();
  /** Per session, number and action, the tail of the numbered Decides being answered (see decide). */
  private readonly sameDecide = new Map<string, Promise<void>>();
  private readonly quota: QuotaNotes;
  private readonly reports: AgentReports;

  constructor(private readonly o: SessionAgentHooksOptions) {
    this.quota = new QuotaNotes(o.rt);
    this.reports = new AgentReports({ rt: o.rt, config: o.config, audit: o.audit, quota: this.quota, onFinished: o.onFinished, ...(o.learnings ? { learnings: o.learnings } : {}) });
  }

  private async live(sessionId: string): Promise<Session> {
    const s = await this.o.rt.store.get(sessionId);
    if (!s) throw new LokiError('session_not_found', `no session "${sessionId}"`);
    if (isTerminal(s.state)) throw new LokiError('session_not_active', `session ${sessionId} is ${s.state}`);
    return s;
  }

  async hello(sessionId: string, runner: { version: string; pid: number }, channel?: { modelSocketInSandbox: string }): Promise<SessionBriefData> {
    const s = await this.live(sessionId);
    const { prompt, planJson } = await this.o.rt.store.brief(sessionId);
    // A runner numbers its events from 1 (AgentEvent.runner_seq): a new runner starts the count again.
    await this.o.rt.events.append(sessionId, 'runner_connected', `agent-runner ${runner.version} connected`, { version: runner.version, pid: runner.pid }, { counters: { runnerStart: true } });
    // A new runner generation: the old runner is gone, so its numbered Decides still waiting end
    // with an error rather than use an approval the new runner may be asking for too.
    this.o.waits.replaced(sessionId, (await this.o.rt.store.lastDecide(sessionId)).gen);
    const engine = this.o.policy.engine;
    const options: Record<string, string> = { profile: s.profile };
    if (this.o.proxies.has(sessionId) && channel) options.model_socket = channel.modelSocketInSandbox;
    if (this.o.config.openai.input_usd_per_mtok) options.price_input_per_mtok = String(this.o.config.openai.input_usd_per_mtok);
    if (this.o.config.openai.output_usd_per_mtok) options.price_output_per_mtok = String(this.o.config.openai.output_usd_per_mtok);
    return {
      sessionId,
      provider: s.provider,
      prompt,
      planJson,
      model: s.model,
      // No key and no upstream URL: the runner talks to the model socket, and the
      // proxy behind it adds the key on the host.
      baseUrl: s.provider === 'openai' && options.model_socket ? MODEL_PROXY_BASE_URL : '',
      maxIterations: s.maxIterations,
      workspace: sessionWorkspace(s).sandbox,
      autonomyMode: s.autonomy || engine.modeFor(engine.profile(s.profile)),
      options,
    };
  }

  decide(sessionId: string, req: AgentActionRequest, signal: AbortSignal): Promise<AgentDecision> {
    if (!req.decideSeq) return this.decideOnce(sessionId, req, signal);
    // The same numbered Decide sent again while the first is still being answered (the call cut off on
    // the runner's side, or a hostile runner) waits for it and then gets its recorded answer. Run at
    // once, it found the approval the first had just used and took itself for a Decide sent again after
    // a crash: a second allow and a second policy.allow entry for one approval.
    // Its generation is the one it arrived in (read now, not once its turn comes): a Hello meanwhile ends it.
    const arrived = this.o.rt.store.lastDecide(sessionId);
    arrived.catch(() => undefined);
    return serialPerSession(this.sameDecide, `${sessionId}:${req.decideSeq}:${numbered(req, 0)!.hash}`, async () => this.decideOnce(sessionId, req, signal, (await arrived).gen));
  }

  private async decideOnce(sessionId: string, req: AgentActionRequest, signal: AbortSignal, arrivedGen?: number): Promise<AgentDecision> {
    const s = await this.live(sessionId);
    const action = req.action as Action;
    // A numbered Decide belongs to the runner generation it arrives in: its record, answer and use
    // of an approval are only ever that generation's (a Hello starts the next one).
    const state = req.decideSeq ? await this.o.rt.store.lastDecide(sessionId) : undefined;
    if (state && state.gen !== arrivedGen) throw RUNNER_REPLACED;
    const n = state && numbered(req, state.gen);
    const c: Asked = { req, n };
    if (s.stopRequested) return this.record(s, c, { decision: 'deny', reason: 'the session is stopping; finish now', rule: 'session:stop', approvalId: '' }, '');
    const again = n && (await answeredBefore(this.o, s, c, n, state.last, (...a) => this.record(...a)));
    if (again) return again;
    // Over the event quota every action is denied without a decision event (recording it would add what the quota forbids).
    const maxEvents = this.o.config.quotas.events;
    if (s.eventsTotal >= maxEvents) return { decision: 'deny', reason: (await this.quota.note(sessionId, 'events', maxEvents)).message, rule: 'quota:events', approvalId: '' };
    const ws = sessionWorkspace(s);
    const ctx: DecideContext = { sessionId, profile: s.profile, workspace: ws.sandbox, sessionWritten: this.writtenSet(sessionId) };
    if (ws.host) ctx.hostWorkspace = ws.host;
    const subject = `session:${sessionId}`;
    const d = withSessionMode(s, action, this.o.policy.explain(action, ctx));
    if (d.decision !== 'ask') {
      const r = d.rule.startsWith('session-mode:') ? await overrideAllow(this.o, d, sessionId, subject) : await this.o.policy.decide(action, ctx, { subject });
      return this.record(s, c, { decision: r.decision === 'allow' ? 'allow' : 'deny', reason: r.reason, rule: r.rule, approvalId: '' }, d.normalized);
    }
    // ask: one approval per action (a re-asked action after a restart reuses the pending one).
    const overridden = d.rule.startsWith('session-mode:');
    const maxApprovals = this.o.config.quotas.approvals;
    // The quota check and the request were one synchronous step; with an async repository they are
    // serialised per session instead, so two asks of one session cannot both pass the quota.
    const approval = await serialPerSession(this.asks, sessionId, async () => {
      const known = await this.o.policy.approvals.list({ sessionId });
      // An approval of this very action still to be used: one granted while lokid was down counts,
      // whoever asked (a session-mode ask made a second one, and put the action to a human again).
      const open = known.find((a) => a.actionHash === d.actionHash && (a.status === 'pending' || (a.status === 'approved' && !a.consumedAt)));
      if (open) return open;
      if (known.length >= maxApprovals) return undefined;
      return overridden ? requestModeApproval(this.o, action, d, sessionId, subject) : this.o.policy.approvals.get((await this.o.policy.decide(action, ctx, { subject })).approvalId);
    });
    if (!approval) return this.record(s, c, { decision: 'deny', reason: quotaError(sessionId, 'approvals', maxApprovals).message, rule: 'quota:approvals', approvalId: '' }, d.normalized);
    // Noted before the approval can be used: the same Decide sent again after a crash finds what answers it.
    await this.o.rt.store.updateCounters(sessionId, { decision: 'ask', ...(n ? { decide: { ...n, approvalId: approval.id } } : {}) });
    const wait = this.o.waits.begin(sessionId, n?.gen);
    // The wait is registered before this check, so a Hello after it aborts the wait; one before it
    // (also one between the approval's creation and the record above, which then wrote nothing) is seen here.
    if (n && !(await isCurrent(this.o.rt.store, sessionId, n.gen))) {
      // As when a wait ends below: the last one to end brings a session another Decide left waiting back to running.
      if (this.o.waits.end(sessionId, wait) === 0) await this.o.rt.events.transition(sessionId, ['waiting_approval'], 'running', `approval ${approval.id} ${approval.status}`);
      throw RUNNER_REPLACED;
    }
    const onAbort = () => wait.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    // The event names the action as the approval shows it (a shell line exactly as it will run), and says when it is cut.
    const what = action.kind === 'shell' ? action.command : d.normalized;
    const shown = what.length > 200 ? `${what.slice(0, 200)} … [+${what.length - 200} chars; the approval shows all]` : what;
    await this.o.rt.events.transition(sessionId, ['running'], 'waiting_approval', `waiting for approval ${approval.id}: ${shown}`, {
      data: { approval_id: approval.id, normalized: d.normalized.slice(0, 1000), reason: d.reason, rule: d.rule },
    });
    let outcome: 'allow' | 'deny' | 'pending' = 'pending';
    let decided = approval;
    try {
      decided = await this.o.policy.approvals.waitForDecision(approval.id, wait.signal);
      outcome = this.o.policy.approvals.outcome(decided);
    } catch {
      // stopped waiting (runner gone, session stopping): the approval stays for a re-ask
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (this.o.waits.end(sessionId, wait) === 0) await this.o.rt.events.transition(sessionId, ['waiting_approval'], 'running', `approval ${approval.id} ${decided.status}`);
    }
    if (outcome === 'allow') {
      // A Hello after the human decided and before this call used the approval: it stays for the new runner.
      if (n && !(await isCurrent(this.o.rt.store, sessionId, n.gen))) throw RUNNER_REPLACED;
      const by = consumer(n);
      const r = overridden ? await consumeOverride(this.o, d, approval.id, sessionId, subject, by) : await this.o.policy.decide(action, ctx, { subject, approvalId: approval.id, consumer: by });
      return this.record(s, c, { decision: r.decision === 'allow' ? 'allow' : 'deny', reason: r.reason, rule: r.rule, approvalId: approval.id }, d.normalized, false, true);
    }
    // The daemon is closing: no verdict. The runner's call fails UNAVAILABLE and it asks the restarted
    // daemon again, which finds the same approval (a deny here would skip the action the human may approve).
    if (outcome === 'pending' && (wait.signal.reason === DAEMON_CLOSING || wait.signal.reason === RUNNER_REPLACED)) throw wait.signal.reason;
    const why = outcome === 'pending' ? 'stopped waiting for the approval' : approvalReason(decided, false);
    return this.record(s, c, { decision: 'deny', reason: why, rule: `approval:${approval.id}`, approvalId: approval.id }, d.normalized, false, true);
  }

  private writtenSet(sessionId: string): Set<string> {
    let set = this.written.get(sessionId);
    if (!set) {
      // Rebuilt from the trail after a restart, so the fail-closed check survives it.
      set = new Set(this.o.trail.read(sessionId).filter((e) => e.action === 'agent_write' && e.details.decision === 'allow').map((e) => String(e.details.path)));
      this.written.set(sessionId, set);
    }
    return set;
  }

  /** Appends the decision to the event log and the agent trail (a numbered Decide's answer with it), in the order the daemon saw it. */
  private async record(s: Session, c: Asked, r: AgentDecision, normalized: string, count = true, noted = false): Promise<AgentDecision> {
    const { req } = c;
    const a = req.action as Action;
    const what = target(a);
    const path = a.kind === 'write' || a.kind === 'delete' || a.kind === 'read' ? posix.resolve(sessionWorkspace(s).sandbox, a.path) : undefined;
    if (a.kind === 'write' && r.decision === 'allow' && path) this.writtenSet(s.id).add(path);
    await this.o.rt.events.append(
      s.id,
      'decision',
      `${r.decision} ${a.kind} ${what.slice(0, 200)}${r.decision === 'deny' ? `: ${r.reason}` : ''}`,
      { kind: a.kind, target: what.slice(0, 1000), tool: req.tool, decision: r.decision, rule: r.rule, reason: r.reason, normalized: normalized.slice(0, 1000), approval_id: r.approvalId },
      { counters: { ...(count ? { decision: r.decision } : {}), ...answerOf(c.n, r, noted) } },
    );
    this.o.trail.append(s.id, {
      action: `agent_${a.kind}`,
      agent: 'development',
      details: { ...(path ? { path } : { target: what.slice(0, 1000) }), tool: req.tool, decision: r.decision, rule: r.rule, ...(r.approvalId ? { approval_id: r.approvalId } : {}) },
    });
    return r;
  }

  /**
   * Reports of one session run one after another: the quotas are read, then
   * written, with awaits between; serialised, two concurrent reports cannot both
   * pass a quota that only one fits in (agent-reports.ts).
   */
  report(sessionId: string, events: AgentEventData[]): Promise<{ stopRequested: boolean }> {
    return this.reports.report(sessionId, events);
  }

  async heartbeat(sessionId: string, iteration: number): Promise<{ stopRequested: boolean }> {
    const s = await this.o.rt.store.get(sessionId);
    if (!s || isTerminal(s.state)) return { stopRequested: true };
    // A heartbeat is not an event: a runner that only heartbeats is still a stall.
    if (iteration) await this.o.rt.store.updateCounters(sessionId, { iteration });
    return { stopRequested: s.stopRequested };
  }
}
