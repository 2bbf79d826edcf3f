// The daemon's answers to the agent-runner (AgentChannelHooks). The session id
// always comes from the socket the call arrived on; profile, owner and mode come
// from the stored session, never from the runner. Every action is decided by
// the policy engine and appended to the session's agent trail by the daemon.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import type { ModelProxies } from '../agent/model-proxies.js';
import type { AgentActionRequest, AgentChannelHooks, AgentDecision, AgentEventData, SessionBriefData } from '../agent/types.js';
import { fitEvent } from '../audit/format.js';
import type { AuditLog } from '../audit/types.js';
import type { AgentTrail } from '../git/trail.js';
import type { LearningStore } from '../registry/learnings.js';
import { DAEMON_CLOSING, RUNNER_REPLACED, type ApprovalWaits } from '../policy/approval-waits.js';
import type { Action, AutonomyMode, DecideContext, Decision } from '../policy/engine.js';
import { approvalReason, type PolicyService } from '../policy/service.js';
import type { SessionsConfig } from './config.js';
import type { SessionRuntime } from './runtime.js';
import { isTerminal, sessionWorkspace, TASK_STATUSES, type Session, type TaskStatus } from './types.js';
import type { CounterUpdate, DecideRecord } from './repo.js';

/** What the openai runner calls on the model socket: a path prefix, never the upstream's real URL. */
export const MODEL_PROXY_BASE_URL = 'http://model-proxy.loki.invalid/v1';
const AGENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Most one runner event may add to a session's cost (USD); the runner's numbers are untrusted. */
const MAX_EVENT_COST_USD = 1000;

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

/** Events a session may always report, even over its quota: it must still be able to end. */
const ALWAYS_ACCEPTED = new Set(['finished', 'error']);

function quotaError(sessionId: string, what: string, n: number): LokiError {
  return new LokiError('resource_exhausted', `session ${sessionId} reached its quota of ${n} ${what} (sessions.quotas.${what}); nothing more of that kind is recorded`);
}

function learningTags(data: Record<string, unknown>): string[] {
  const t = data.tags;
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
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

/** A numbered Decide: its runner generation, its number and its action's content (kind and target) hashed, what a record of it is bound to. */
type Numbered = Pick<DecideRecord, 'gen' | 'seq' | 'hash'>;

function numbered(req: AgentActionRequest, gen: number): Numbered | undefined {
  if (!req.decideSeq) return undefined;
  return { gen, seq: req.decideSeq, hash: createHash('sha256').update(JSON.stringify(req.action)).digest('hex') };
}

/** A Decide as asked: the request and, when numbered, what its record is bound to. */
interface Asked {
  req: AgentActionRequest;
  n: Numbered | undefined;
}

/**
 * What a numbered Decide leaves on the approval it uses (Approval.consumedBy): only the Decide
 * that used an approval is answered by it when sent again, never another that waited on it too,
 * nor the same number of a later runner (generation).
 */
function consumer(n: Numbered | undefined): string {
  return n ? `decide:${n.gen}:${n.seq}:${n.hash}` : '';
}

function parseData(json: string): Record<string, unknown> {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { raw: json.slice(0, 1000) };
  }
}

export class SessionAgentHooks implements AgentChannelHooks {
  /** Paths written in each session (sourcing one of them fails closed in the shell analysis). */
  private readonly written = new Map<string, Set<string>>();
  /** `session:kind` pairs whose quota breach already has its event. */
  private readonly quotaNoted = new Set<string>();
  /** Per session, the tail of the serialised approval asks (see serialPerSession). */
  private readonly asks = new Map<string, Promise<void>>();
  /** Per session, the tail of the serialised reports (see report). */
  private readonly reports = new Map<string, Promise<void>>();

  constructor(private readonly o: SessionAgentHooksOptions) {}

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

  async decide(sessionId: string, req: AgentActionRequest, signal: AbortSignal): Promise<AgentDecision> {
    const s = await this.live(sessionId);
    const action = req.action as Action;
    // A numbered Decide belongs to the runner generation it arrives in: its record, answer and use
    // of an approval are only ever that generation's (a Hello starts the next one).
    const state = req.decideSeq ? await this.o.rt.store.lastDecide(sessionId) : undefined;
    const n = state && numbered(req, state.gen);
    const c: Asked = { req, n };
    if (s.stopRequested) return this.record(s, c, { decision: 'deny', reason: 'the session is stopping; finish now', rule: 'session:stop', approvalId: '' }, '');
    const again = n && (await this.answeredBefore(s, c, n, state.last));
    if (again) return again;
    // Over the event quota every action is denied without a decision event (recording it would add what the quota forbids).
    const maxEvents = this.o.config.quotas.events;
    if (s.eventsTotal >= maxEvents) return { decision: 'deny', reason: (await this.noteBreach(sessionId, 'events', maxEvents)).message, rule: 'quota:events', approvalId: '' };
    const ws = sessionWorkspace(s);
    const ctx: DecideContext = { sessionId, profile: s.profile, workspace: ws.sandbox, sessionWritten: this.writtenSet(sessionId) };
    if (ws.host) ctx.hostWorkspace = ws.host;
    const subject = `session:${sessionId}`;
    const d = this.withSessionMode(s, action, this.o.policy.explain(action, ctx));
    if (d.decision !== 'ask') {
      const r = d.rule.startsWith('session-mode:') ? await this.overrideAllow(d, sessionId, subject) : await this.o.policy.decide(action, ctx, { subject });
      return this.record(s, c, { decision: r.decision === 'allow' ? 'allow' : 'deny', reason: r.reason, rule: r.rule, approvalId: '' }, d.normalized);
    }
    // ask: one approval per action (a re-asked action after a restart reuses the pending one).
    const overridden = d.rule.startsWith('session-mode:');
    const maxApprovals = this.o.config.quotas.approvals;
    // The quota check and the request were one synchronous step; with an async repository they are
    // serialised per session instead, so two asks of one session cannot both pass the quota.
    const approval = await this.serialPerSession(this.asks, sessionId, async () => {
      const known = await this.o.policy.approvals.list({ sessionId });
      // An approval of this very action still to be used: one granted while lokid was down counts,
      // whoever asked (a session-mode ask made a second one, and put the action to a human again).
      const open = known.find((a) => a.actionHash === d.actionHash && (a.status === 'pending' || (a.status === 'approved' && !a.consumedAt)));
      if (open) return open;
      if (known.length >= maxApprovals) return undefined;
      return overridden ? this.requestModeApproval(action, d, sessionId, subject) : this.o.policy.approvals.get((await this.o.policy.decide(action, ctx, { subject })).approvalId);
    });
    if (!approval) return this.record(s, c, { decision: 'deny', reason: quotaError(sessionId, 'approvals', maxApprovals).message, rule: 'quota:approvals', approvalId: '' }, d.normalized);
    // Noted before the approval can be used: the same Decide sent again after a crash finds what answers it.
    await this.o.rt.store.updateCounters(sessionId, { decision: 'ask', ...(n ? { decide: { ...n, approvalId: approval.id } } : {}) });
    const wait = this.o.waits.begin(sessionId, n?.gen);
    // The wait is registered before this check, so a Hello after it aborts the wait; one before it
    // (also one between the approval's creation and the record above, which then wrote nothing) is seen here.
    if (n && !(await this.current(sessionId, n.gen))) {
      this.o.waits.end(sessionId, wait);
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
      if (n && !(await this.current(sessionId, n.gen))) throw RUNNER_REPLACED;
      const by = consumer(n);
      const r = overridden ? await this.consumeOverride(d, approval.id, sessionId, subject, by) : await this.o.policy.decide(action, ctx, { subject, approvalId: approval.id, consumer: by });
      return this.record(s, c, { decision: r.decision === 'allow' ? 'allow' : 'deny', reason: r.reason, rule: r.rule, approvalId: approval.id }, d.normalized, false, true);
    }
    // The daemon is closing: no verdict. The runner's call fails UNAVAILABLE and it asks the restarted
    // daemon again, which finds the same approval (a deny here would skip the action the human may approve).
    if (outcome === 'pending' && (wait.signal.reason === DAEMON_CLOSING || wait.signal.reason === RUNNER_REPLACED)) throw wait.signal.reason;
    const why = outcome === 'pending' ? 'stopped waiting for the approval' : approvalReason(decided, false);
    return this.record(s, c, { decision: 'deny', reason: why, rule: `approval:${approval.id}`, approvalId: approval.id }, d.normalized, false, true);
  }

  /**
   * The runner sends a numbered Decide again when lokid died before its answer left (its call
   * failed UNAVAILABLE). The recorded answer, or the approval it waited on, answers it: a human
   * is not asked twice for one action, and a denied action is not put to another human. The
   * runner is untrusted: the record is bound to the action's content, so its number sent with
   * another action (or a number below the last) is refused rather than given another's answer.
   * Undefined: decide it as usual (a new number, or an approval still pending or not yet used).
   */
  private async answeredBefore(s: Session, c: Asked, n: Numbered, last: DecideRecord | undefined): Promise<AgentDecision | undefined> {
    if (!last || last.gen !== n.gen || n.seq > last.seq) return undefined;
    if (n.seq < last.seq || n.hash !== last.hash) {
      const why = n.seq < last.seq ? `is below the last one answered (${last.seq})` : 'was already used for another action';
      throw new LokiError('decide_seq_reused', `decide_seq ${n.seq} ${why}; number each Decide once, one more than the last`);
    }
    if (last.answer) return last.answer;
    const a = last.approvalId ? await this.o.policy.approvals.get(last.approvalId).catch(() => undefined) : undefined;
    const outcome = a && this.o.policy.approvals.outcome(a);
    // An approval used by another Decide (an unnumbered one, or one that waited on it too) is not this
    // Decide's allow: one approval lets one action through. Decided afresh, it asks a human again.
    if (!a || !outcome || outcome === 'pending' || (outcome === 'allow' && (!a.consumedAt || a.consumedBy !== consumer(n)))) return undefined;
    // Decided, and (an allow) used by this very Decide: lokid died before recording the answer.
    const r: AgentDecision = { decision: outcome, reason: approvalReason(a, outcome === 'allow'), rule: `approval:${a.id}`, approvalId: a.id };
    if (outcome === 'allow') {
      // Its policy.allow entry may have died with the old process: the allow that now leaves is on record.
      await this.o.audit.record(fitEvent({ action: 'policy.allow', user: `session:${s.id}`, resource: `session:${s.id}`, details: { normalized: a.normalized.slice(0, 1000), rule: r.rule, action_hash: a.actionHash, approval_id: a.id, decide_seq: n.seq, resent: true }, result: 'success' }));
    }
    return this.record(s, c, r, a.normalized, false, true);
  }

  /** Whether `gen` is still the session's runner generation (no Hello since). */
  private async current(sessionId: string, gen: number): Promise<boolean> {
    return (await this.o.rt.store.lastDecide(sessionId)).gen === gen;
  }

  /**
   * The engine applies the profile's autonomy mode; a session may choose its
   * own mode at start. Only the differences are re-decided here: phase
   * boundaries, and supervised turning an allow into an ask. A deny stays a deny.
   */
  private withSessionMode(s: Session, action: Action, d: Decision): Decision {
    const mode = s.autonomy as AutonomyMode | '';
    if (!mode || mode === d.mode || d.decision === 'deny') return d;
    if (action.kind === 'phase') {
      return mode === 'perpetual'
        ? { ...d, decision: 'allow', mode, rule: 'session-mode:perpetual', reason: 'perpetual mode does not stop at phase boundaries' }
        : { ...d, decision: 'ask', mode, rule: `session-mode:${mode}`, reason: `${mode} mode asks for approval at the phase boundary "${action.name}"` };
    }
    if (mode === 'supervised' && d.decision === 'allow') return { ...d, decision: 'ask', mode, rule: 'session-mode:supervised', reason: 'supervised mode asks for approval of every action' };
    // The profile's supervised mode turned an allow into this ask; the session's own mode overrides it
    // (docs/policy.md "Staged autonomy"), as it overrides a profile's checkpoint at phases above.
    if (d.rule === 'mode:supervised') return { ...d, decision: 'allow', mode, rule: `session-mode:${mode}`, reason: `the session's ${mode} mode overrides the profile's supervised mode` };
    return { ...d, mode };
  }

  /**
   * A session-mode ask (checkpoint, supervised) makes its approval here rather than in
   * PolicyService.decide, so it is audited here, the same way: `approval.request`.
   */
  private async requestModeApproval(action: Action, d: Decision, sessionId: string, subject: string) {
    const a = await this.o.policy.approvals.request({ sessionId, actionKind: action.kind, normalized: d.normalized, command: action.kind === 'shell' ? action.command : '', actionHash: d.actionHash, askedBy: d.rule.replace('session-mode:', 'mode:'), reason: d.reason });
    await this.o.audit.record(fitEvent({ action: 'approval.request', user: subject, resource: `session:${sessionId}`, details: { normalized: d.normalized.slice(0, 1000), rule: d.rule, action_hash: d.actionHash, profile: d.profile, mode: d.mode, approval_id: a.id }, result: 'success' }));
    return a;
  }

  private async overrideAllow(d: Decision, sessionId: string, subject: string): Promise<Decision> {
    await this.o.audit.record(fitEvent({ action: 'policy.allow', user: subject, resource: `session:${sessionId}`, details: { normalized: d.normalized.slice(0, 1000), rule: d.rule, action_hash: d.actionHash, profile: d.profile, mode: d.mode }, result: 'success' }));
    return d;
  }

  private async consumeOverride(d: Decision, approvalId: string, sessionId: string, subject: string, by: string): Promise<Decision> {
    const a = await this.o.policy.approvals.consume(approvalId, sessionId, d.actionHash, by);
    const out: Decision = { ...d, decision: 'allow', rule: `approval:${a.id}`, reason: approvalReason(a, true) };
    return this.overrideAllow(out, sessionId, subject);
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

  /** A numbered Decide's final answer, kept in the transaction of its decision event (see answeredBefore); `noted`: only over its own record. */
  private answerOf(n: Numbered | undefined, r: AgentDecision, noted: boolean): CounterUpdate {
    return n ? { decide: { ...n, approvalId: r.approvalId, answer: { decision: r.decision, reason: r.reason, rule: r.rule, approvalId: r.approvalId }, ...(noted ? { noted } : {}) } } : {};
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
      { counters: { ...(count ? { decision: r.decision } : {}), ...this.answerOf(c.n, r, noted) } },
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
   * pass a quota that only one fits in.
   */
  report(sessionId: string, events: AgentEventData[]): Promise<{ stopRequested: boolean }> {
    return this.serialPerSession(this.reports, sessionId, () => this.reportNow(sessionId, events));
  }

  private async reportNow(sessionId: string, events: AgentEventData[]): Promise<{ stopRequested: boolean }> {
    const s = await this.o.rt.store.get(sessionId);
    if (!s || isTerminal(s.state)) return { stopRequested: true };
    let finished = false;
    const q = this.o.config.quotas;
    let total = s.eventsTotal;
    let breach: LokiError | undefined;
    // A numbered event already recorded came again: the call that carried it was cut off
    // before its answer (a daemon restart while a Decide waited for a human, or a Report in
    // flight), so the runner re-sent it. Recorded once: its tokens and cost are counted once.
    let lastSeq = await this.o.rt.store.lastRunnerSeq(sessionId);
    for (const e of events) {
      if (e.runnerSeq && e.runnerSeq <= lastSeq) continue;
      // Over a quota the item is dropped (the session keeps running and can still finish); the first breach of each kind is one `quota` event.
      const over = !ALWAYS_ACCEPTED.has(e.type) && total >= q.events ? ('events' as const)
        : e.taskId && !(await this.o.rt.store.hasTask(sessionId, e.taskId)) && (await this.o.rt.store.taskCount(sessionId)) >= q.tasks ? ('tasks' as const)
        : undefined;
      // The learnings quota is checked by the insert itself (one repository transaction).
      const learned = !over && e.type === 'learning' ? await this.learn(sessionId, s.projectId, e, q.learnings) : undefined;
      const overNow = over ?? (learned === 'over' ? ('learnings' as const) : undefined);
      if (overNow) {
        const err = await this.noteBreach(sessionId, overNow, q[overNow]);
        breach ??= err;
        continue;
      }
      const learnError = learned === 'over' ? undefined : learned;
      total++;
      const counters: CounterUpdate = {
        ...(e.iteration ? { iteration: e.iteration } : {}),
        ...(e.costUsd > 0 && Number.isFinite(e.costUsd) ? { addCostUsd: Math.min(e.costUsd, MAX_EVENT_COST_USD) } : {}),
        ...(e.inputTokens > 0 ? { addInputTokens: e.inputTokens } : {}),
        ...(e.outputTokens > 0 ? { addOutputTokens: e.outputTokens } : {}),
      };
      if (!counters.addCostUsd && (e.inputTokens > 0 || e.outputTokens > 0)) {
        const cost = (e.inputTokens * this.o.config.openai.input_usd_per_mtok + e.outputTokens * this.o.config.openai.output_usd_per_mtok) / 1e6;
        // Same per-event cap as a reported cost: the token counts are the runner's word too.
        if (cost > 0) counters.addCostUsd = Math.min(cost, MAX_EVENT_COST_USD);
      }
      if (e.agent && AGENT_RE.test(e.agent)) await this.o.rt.store.addAgent(sessionId, e.agent);
      if (e.taskId) await this.task(sessionId, e.taskId, (e.taskStatus || 'pending') as TaskStatus);
      const data = { ...parseData(e.dataJson), ...(learnError ? { learning_error: learnError } : {}), ...(e.iteration ? { iteration: e.iteration } : {}), ...(e.taskId ? { task_id: e.taskId, task_status: e.taskStatus } : {}), ...(e.agent ? { agent: e.agent } : {}) };
      if (e.inputTokens || e.outputTokens || e.costUsd) Object.assign(data, { input_tokens: e.inputTokens, output_tokens: e.outputTokens, cost_usd: e.costUsd });
      // A task event's words are in its fields; a runner that sends no text (the script runner
      // does not) would show a blank line in every log view.
      const message = e.type === 'task' && !e.message.trim() && e.taskId ? `${e.taskId} ${e.taskStatus || 'pending'}` : e.message;
      if (e.runnerSeq) {
        counters.runnerSeq = e.runnerSeq;
        lastSeq = e.runnerSeq;
      }
      await this.o.rt.events.append(sessionId, e.type, message, data, { counters });
      if (e.type === 'finished') finished = true;
    }
    if (finished) this.o.onFinished(sessionId);
    // The runner logs a RESOURCE_EXHAUSTED report and moves on; what fitted is recorded.
    if (breach) throw breach;
    return { stopRequested: (await this.o.rt.store.get(sessionId))!.stopRequested || finished };
  }

  /** Records a `learning` event within the session's quota; returns 'over' or why it was not recorded, if it was not. */
  private async learn(sessionId: string, projectId: string, e: AgentEventData, max: number): Promise<string | undefined> {
    if (!this.o.learnings) return undefined;
    try {
      const r = await this.o.learnings.recordWithin({ sessionId, projectId, text: e.message, tags: learningTags(parseData(e.dataJson)) }, max);
      return r === 'over' ? 'over' : undefined;
    } catch (err) {
      if (err instanceof LokiError) return err.message;
      throw err;
    }
  }

  /** Runs `fn` after every earlier call for the same session has settled. */
  private serialPerSession<T>(queue: Map<string, Promise<void>>, sessionId: string, fn: () => Promise<T>): Promise<T> {
    const run = (queue.get(sessionId) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    queue.set(sessionId, tail);
    void tail.then(() => {
      if (queue.get(sessionId) === tail) queue.delete(sessionId);
    });
    return run;
  }

  private async noteBreach(sessionId: string, what: 'events' | 'tasks' | 'learnings', n: number): Promise<LokiError> {
    const err = quotaError(sessionId, what, n);
    const key = `${sessionId}:${what}`;
    // Checked and marked before the await: of two concurrent breaches one writes the event.
    if (!this.quotaNoted.has(key)) {
      this.quotaNoted.add(key);
      await this.o.rt.events.append(sessionId, 'quota', err.message, { quota: what, limit: n });
    }
    return err;
  }

  private async task(sessionId: string, taskId: string, status: TaskStatus): Promise<void> {
    if (!TASK_STATUSES.includes(status)) return;
    const created = await this.o.rt.store.setTask(sessionId, taskId, status);
    await this.o.audit.record({ action: created ? 'task.create' : 'task.update', user: `session:${sessionId}`, resource: `session:${sessionId}`, details: { task_id: taskId.slice(0, 128), status }, result: 'success' });
  }

  async heartbeat(sessionId: string, iteration: number): Promise<{ stopRequested: boolean }> {
    const s = await this.o.rt.store.get(sessionId);
    if (!s || isTerminal(s.state)) return { stopRequested: true };
    // A heartbeat is not an event: a runner that only heartbeats is still a stall.
    if (iteration) await this.o.rt.store.updateCounters(sessionId, { iteration });
    return { stopRequested: s.stopRequested };
  }
}
