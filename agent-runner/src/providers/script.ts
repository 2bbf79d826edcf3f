// The `script` provider: a deterministic plan of steps, for CI, demos and replay.
import { counted } from '../../../common/src/display.js';
import { PlanError, parseScriptPlan, type ScriptStep, type ScriptStepMeta } from '../../../common/src/script-plan.js';
import { ProviderError, type Provider } from './types.js';

export type Step = ScriptStep;

/** The plan's steps (the same rules lokid applied when the session was started). */
export function parsePlan(text: string): (Step & ScriptStepMeta)[] {
  try {
    return parseScriptPlan(text);
  } catch (err) {
    if (err instanceof PlanError) throw new ProviderError(err.message);
    throw err;
  }
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
    if (i >= cap) return { summary: `iteration cap ${cap} reached after ${counted(done, 'step')}`, data: { steps: done, denied, failed, capped: true } };
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
  return { summary: `ran ${counted(done, 'step')} (${denied} denied, ${failed} failed)`, data: { steps: done, denied, failed } };
};
