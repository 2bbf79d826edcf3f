// What the agent-runner reports (AgentService.Report): its events, counted against the session's
// quotas, with their tokens and cost, tasks and learnings, each recorded once even when sent again.
import { LokiError } from '../../../common/src/index.js';
import type { AgentEventData } from '../agent/types.js';
import type { AuditLog } from '../audit/types.js';
import type { LearningStore } from '../registry/learnings.js';
import type { SessionsConfig } from './config.js';
import type { CounterUpdate } from './repo.js';
import type { SessionRuntime } from './runtime.js';
import { isTerminal, TASK_STATUSES, type TaskStatus } from './types.js';

const AGENT_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Most one runner event may add to a session's cost (USD); the runner's numbers are untrusted. */
const MAX_EVENT_COST_USD = 1000;
/** Events a session may always report, even over its quota: it must still be able to end. */
const ALWAYS_ACCEPTED = new Set(['finished', 'error']);

export function quotaError(sessionId: string, what: string, n: number): LokiError {
  return new LokiError('resource_exhausted', `session ${sessionId} reached its quota of ${n} ${what} (sessions.quotas.${what}); nothing more of that kind is recorded`);
}

function learningTags(data: Record<string, unknown>): string[] {
  const t = data.tags;
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
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

/** Runs `fn` after every earlier call for the same session has settled. */
export function serialPerSession<T>(queue: Map<string, Promise<void>>, sessionId: string, fn: () => Promise<T>): Promise<T> {
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

/** Per session and quota, the first breach gets one `quota` event (later ones only their error). */
export class QuotaNotes {
  /** `session:kind` pairs whose quota breach already has its event. */
  private readonly noted = new Set<string>();

  constructor(private readonly rt: Pick<SessionRuntime, 'events'>) {}

  async note(sessionId: string, what: 'events' | 'tasks' | 'learnings', n: number): Promise<LokiError> {
    const err = quotaError(sessionId, what, n);
    const key = `${sessionId}:${what}`;
    // Checked and marked before the await: of two concurrent breaches one writes the event.
    if (!this.noted.has(key)) {
      this.noted.add(key);
      await this.rt.events.append(sessionId, 'quota', err.message, { quota: what, limit: n });
    }
    return err;
  }
}

export interface AgentReportsOptions {
  rt: SessionRuntime;
  config: SessionsConfig;
  audit: AuditLog;
  quota: QuotaNotes;
  onFinished: (sessionId: string) => void;
  /** Where `learning` events are recorded; without it they are plain events. */
  learnings?: LearningStore;
}

export class AgentReports {
  /** Per session, the tail of the serialised reports (see report). */
  private readonly queue = new Map<string, Promise<void>>();

  constructor(private readonly o: AgentReportsOptions) {}

  /**
   * Reports of one session run one after another: the quotas are read, then
   * written, with awaits between; serialised, two concurrent reports cannot both
   * pass a quota that only one fits in.
   */
  report(sessionId: string, events: AgentEventData[]): Promise<{ stopRequested: boolean }> {
    return serialPerSession(this.queue, sessionId, () => this.reportNow(sessionId, events));
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
        const err = await this.o.quota.note(sessionId, overNow, q[overNow]);
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

  private async task(sessionId: string, taskId: string, status: TaskStatus): Promise<void> {
    if (!TASK_STATUSES.includes(status)) return;
    const created = await this.o.rt.store.setTask(sessionId, taskId, status);
    await this.o.audit.record({ action: created ? 'task.create' : 'task.update', user: `session:${sessionId}`, resource: `session:${sessionId}`, details: { task_id: taskId.slice(0, 128), status }, result: 'success' });
  }
}
