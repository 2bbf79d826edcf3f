// The `script` provider's plan: a JSON or YAML list of steps (or `{steps: [...]}`),
// each with exactly one action key. One parser for both sides: lokid refuses a
// malformed plan when the session is started (before any sandbox exists), and the
// runner reads the same plan with the same rules.
import { parse as parseYaml } from 'yaml';
import { textProblem } from './text-input.js';

export type ScriptStep =
  | { run: string }
  | { write: string; content?: string }
  | { read: string }
  | { delete: string }
  | { commit: string }
  | { phase: string }
  | { sleep: number }
  /** Records a learning (text + optional tags) for the session's project. */
  | { learn: string; tags?: string[] };

export interface ScriptStepMeta {
  task?: string;
  agent?: string;
}

/** A learning's tag and how many a learning may have (the daemon's learning store checks the same). */
export const LEARNING_TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const MAX_LEARNING_TAGS = 16;

/** The daemon's limits on a reported task id and agent name (daemon/src/agent/convert.ts). */
export const META_MAX = { task: 256, agent: 64 } as const;

export const SCRIPT_STEP_KEYS = ['run', 'write', 'read', 'delete', 'commit', 'phase', 'sleep', 'learn'] as const;
export const MAX_SLEEP_MS = 10 * 60_000;

/** What each action's value is, for the error that names a step. */
const EXAMPLE: Record<(typeof SCRIPT_STEP_KEYS)[number], string> = {
  run: 'a shell command, e.g. {"run": "npm test"}',
  write: 'the path as a string, with the text in "content", e.g. {"write": "src/a.txt", "content": "hello\\n"}',
  read: 'a path, e.g. {"read": "package.json"}',
  delete: 'a path, e.g. {"delete": "tmp/"}',
  commit: 'a commit message, e.g. {"commit": "feat: hello"}',
  phase: 'a phase name, e.g. {"phase": "build"}',
  sleep: `a number of milliseconds from 0 to ${MAX_SLEEP_MS}`,
  learn: 'the learning as text, e.g. {"learn": "tests need NODE_ENV=test"}',
};

/**
 * YAML reads an unquoted `false`, `true`, `2024`, `1.0` or `null` as something other than
 * text (`run: false` is not the shell command `false`); say so, and how to quote it.
 */
function notTextHint(key: string, v: unknown): string {
  if (v === null || v === undefined) return ` (it is empty)`;
  if (typeof v === 'boolean' || typeof v === 'number') {
    return ` (YAML read ${key}: ${String(v)} as a ${typeof v}, not text: quote it, ${key}: "${String(v)}")`;
  }
  return '';
}

/** A plan that cannot run; the message names the step and what it needs. */
export class PlanError extends Error {}

/** The steps of a plan text, each checked; throws PlanError naming the first bad step. */
export function parseScriptPlan(text: string): (ScriptStep & ScriptStepMeta)[] {
  if (!text.trim()) throw new PlanError('the script provider needs a plan (a JSON or YAML list of steps)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    try {
      raw = parseYaml(text);
    } catch (err) {
      throw new PlanError(`the plan is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && Array.isArray((raw as { steps?: unknown }).steps)) {
    raw = (raw as { steps: unknown[] }).steps;
  }
  if (!Array.isArray(raw)) throw new PlanError('the plan must be a list of steps (or {steps: [...]})');
  return raw.map((s, i) => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) throw new PlanError(`step ${i + 1} must be an object such as {"run": "npm test"}`);
    const keys = SCRIPT_STEP_KEYS.filter((k) => k in s);
    if (keys.length !== 1) throw new PlanError(`step ${i + 1} must have exactly one of ${SCRIPT_STEP_KEYS.join(', ')}`);
    const k = keys[0]!;
    const v = (s as Record<string, unknown>)[k];
    if (k === 'sleep' ? typeof v !== 'number' || !(v >= 0 && v <= MAX_SLEEP_MS) : typeof v !== 'string' || !v) {
      throw new PlanError(`step ${i + 1}: "${k}" needs ${EXAMPLE[k]}${k === 'sleep' ? '' : notTextHint(k, v)}`);
    }
    const content = (s as { content?: unknown }).content;
    if (content !== undefined && (k !== 'write' || typeof content !== 'string')) {
      throw new PlanError(`step ${i + 1}: "content" belongs to a write step and is a string`);
    }
    const tags = (s as { tags?: unknown }).tags;
    if (tags !== undefined && (k !== 'learn' || !Array.isArray(tags) || !tags.every((t) => typeof t === 'string'))) {
      throw new PlanError(`step ${i + 1}: "tags" belongs to a learn step and is a list of strings`);
    }
    // The daemon's rules for a learning's tags: a bad one would only drop the learning later, quietly.
    const badTag = (tags as string[] | undefined)?.find((t) => !LEARNING_TAG_RE.test(t));
    if (badTag !== undefined) throw new PlanError(`step ${i + 1}: tag ${JSON.stringify(badTag.slice(0, 64))} is not a tag: use 1-64 of [A-Za-z0-9_.:-], starting with a letter or digit`);
    if (tags !== undefined && new Set(tags as string[]).size > MAX_LEARNING_TAGS) throw new PlanError(`step ${i + 1}: at most ${MAX_LEARNING_TAGS} tags`);
    for (const meta of ['task', 'agent'] as const) {
      const m = (s as ScriptStepMeta)[meta];
      if (m !== undefined && (typeof m !== 'string' || !m)) throw new PlanError(`step ${i + 1}: "${meta}" is a non-empty string${notTextHint(meta, m)}`);
      // A task's name and an agent's are listed by `loki tasks` and the dashboards: one line of visible text.
      const problem = m === undefined ? undefined : textProblem(meta, m, { max: META_MAX[meta] });
      if (problem) throw new PlanError(`step ${i + 1}: ${problem}`);
    }
    return s as ScriptStep & ScriptStepMeta;
  });
}
