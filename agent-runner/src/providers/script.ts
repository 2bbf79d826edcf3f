// The `script` provider: a deterministic plan of steps, for CI, demos and replay.
import { parse as parseYaml } from 'yaml';
import { ProviderError, type Provider } from './types.js';

export type Step =
  | { run: string }
  | { write: string; content?: string }
  | { read: string }
  | { delete: string }
  | { commit: string }
  | { phase: string }
  | { sleep: number }
  /** Records a learning (text + optional tags) for the session's project. */
  | { learn: string; tags?: string[] };

interface StepMeta {
  task?: string;
  agent?: string;
}

const KEYS = ['run', 'write', 'read', 'delete', 'commit', 'phase', 'sleep', 'learn'] as const;
const MAX_SLEEP_MS = 10 * 60_000;

export function parsePlan(text: string): (Step & StepMeta)[] {
  if (!text.trim()) throw new ProviderError('the script provider needs a plan (plan_json is empty)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    try {
      raw = parseYaml(text);
    } catch (err) {
      throw new ProviderError(`the plan is neither JSON nor YAML: ${(err as Error).message}`);
    }
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && Array.isArray((raw as { steps?: unknown }).steps)) {
    raw = (raw as { steps: unknown[] }).steps;
  }
  if (!Array.isArray(raw)) throw new ProviderError('the plan must be a list of steps (or {steps: [...]})');
  return raw.map((s, i) => {
    if (!s || typeof s !== 'object') throw new ProviderError(`step ${i + 1} is not an object`);
    const keys = KEYS.filter((k) => k in s);
    if (keys.length !== 1) throw new ProviderError(`step ${i + 1} must have exactly one of ${KEYS.join(', ')}`);
    const k = keys[0]!;
    const v = (s as Record<string, unknown>)[k];
    if (k === 'sleep' ? typeof v !== 'number' || v < 0 || v > MAX_SLEEP_MS : typeof v !== 'string' || !v) {
      throw new ProviderError(`step ${i + 1}: "${k}" needs ${k === 'sleep' ? `a number of ms (0–${MAX_SLEEP_MS})` : 'a non-empty string'}`);
    }
    const tags = (s as { tags?: unknown }).tags;
    if (tags !== undefined && (k !== 'learn' || !Array.isArray(tags) || !tags.every((t) => typeof t === 'string'))) {
      throw new ProviderError(`step ${i + 1}: "tags" belongs to a learn step and is a list of strings`);
    }
    return s as Step & StepMeta;
  });
}

/** Sleeps in slices so a stop request is honoured mid-sleep. */
async function sleepUnlessStopped(ms: number, stopped: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !stopped()) await new Promise((r) => setTimeout(r, Math.min(200, end - Date.now())));
}

export const scriptProvider: Provider = async ({ brief, actor, reporter, link }) => {
  const plan = parsePlan(brief.planJson);
  const cap = brief.maxIterations > 0 ? brief.maxIterations : plan.length;
  let denied = 0;
  let failed = 0;
  let done = 0;
  for (const [i, step] of plan.entries()) {
    if (link.stopRequested) return { summary: `stopped on request after ${done} of ${plan.length} steps`, data: { steps: done, denied, failed, stopped: true } };
    if (i >= cap) return { summary: `iteration cap ${cap} reached after ${done} steps`, data: { steps: done, denied, failed, capped: true } };
    reporter.iteration = i + 1;
    const agent = step.agent ?? '';
    reporter.emit({ type: 'iteration', message: `step ${i + 1}/${plan.length}`, agent });
    if (step.task) reporter.emit({ type: 'task', taskId: step.task, taskStatus: 'in_progress', agent });
    let outcome = { ok: true, denied: false, output: '' };
    if ('run' in step) outcome = await actor.shell(step.run, 'run');
    else if ('write' in step) outcome = await actor.write(step.write, step.content ?? '', 'write');
    else if ('read' in step) outcome = await actor.read(step.read, 'read');
    else if ('delete' in step) outcome = await actor.delete(step.delete, 'delete');
    else if ('commit' in step) outcome = await actor.commit(step.commit, 'commit');
    else if ('phase' in step) outcome = await actor.phase(step.phase, 'phase');
    else if ('learn' in step) reporter.emit({ type: 'learning', message: step.learn, dataJson: JSON.stringify({ tags: step.tags ?? [] }), agent });
    else await sleepUnlessStopped(step.sleep, () => link.stopRequested);
    if (outcome.denied) denied++;
    else if (!outcome.ok) failed++;
    if (step.task) reporter.emit({ type: 'task', taskId: step.task, taskStatus: outcome.ok ? 'completed' : 'failed', agent });
    done++;
  }
  return { summary: `ran ${done} steps (${denied} denied, ${failed} failed)`, data: { steps: done, denied, failed } };
};
