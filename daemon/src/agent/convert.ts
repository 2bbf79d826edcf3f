// Wire ⇄ domain for the agent API, with every runner-supplied field bounded.
// The runner is untrusted: strings are clipped, numbers clamped, and unknown
// event types are refused so a runner cannot invent lifecycle events.
import { AUTONOMY_MODES, LokiError, TASK_STATUSES, checkText, isOneOf } from '../../../common/src/index.js';
import { META_MAX } from '../../../common/src/script-plan.js';
import { autonomyCodec, providerCodec, taskStatusCodec } from '../../../common/src/wire-vocab.js';
import type { AgentDecideRequest, AgentEvent, SessionBrief } from '../../../proto/gen/loki/v1/agent.js';
import type { AgentActionRequest, AgentEventData, SessionBriefData } from './types.js';

export const MAX_EVENTS_PER_REPORT = 200;
export const MAX_MESSAGE_CHARS = 8 * 1024;
export const MAX_DATA_JSON_CHARS = 32 * 1024;
export const MAX_COMMAND_CHARS = 64 * 1024;
export const MAX_PATH_CHARS = 4096;
const MAX_SHORT = 256;

/** Event types a runner may report. State changes (running, paused, …) are the daemon's alone. */
export const RUNNER_EVENT_TYPES = [
  'message',
  'tool_call',
  'tool_result',
  'denied',
  'phase',
  'iteration',
  'task',
  // a note for the project's memory (text + data_json {tags}); recorded within sessions.quotas.learnings
  'learning',
  'usage',
  'log',
  'error',
  'finished',
] as const;
const EVENT_TYPES = new Set<string>(RUNNER_EVENT_TYPES);
const TASK_STATUS_SET = new Set<string>(['', ...TASK_STATUSES]);

function clip(s: string | undefined, max: number): string {
  const v = typeof s === 'string' ? s : '';
  return v.length > max ? `${v.slice(0, max - 1)}…` : v;
}

function nonNegInt(n: number | undefined, max = 2 ** 31 - 1): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), max) : 0;
}

function noNul(field: string, v: string): string {
  if (v.includes('\0')) throw new LokiError('invalid_argument', `${field} must not contain NUL bytes`);
  return v;
}

function bounded(field: string, v: string, max: number): string {
  if (!v) throw new LokiError('invalid_argument', `${field} must not be empty`);
  if (v.length > max) throw new LokiError('payload_too_large', `${field} is longer than ${max} characters`);
  return noNul(field, v);
}

export function toActionRequest(req: AgentDecideRequest): AgentActionRequest {
  const a = req.action?.action;
  const tool = clip(req.action?.tool, MAX_SHORT);
  const detail = clip(req.action?.detail, 1024);
  const decideSeq = nonNegInt(req.decideSeq, Number.MAX_SAFE_INTEGER);
  if (!a) throw new LokiError('invalid_argument', 'action must set one of shell, write_path, read_path, delete_path, commit_message, phase');
  switch (a.$case) {
    case 'shell':
      return { action: { kind: 'shell', command: bounded('shell', a.shell, MAX_COMMAND_CHARS) }, tool, detail, decideSeq };
    case 'writePath':
      return { action: { kind: 'write', path: bounded('write_path', a.writePath, MAX_PATH_CHARS) }, tool, detail, decideSeq };
    case 'readPath':
      return { action: { kind: 'read', path: bounded('read_path', a.readPath, MAX_PATH_CHARS) }, tool, detail, decideSeq };
    case 'deletePath':
      return { action: { kind: 'delete', path: bounded('delete_path', a.deletePath, MAX_PATH_CHARS) }, tool, detail, decideSeq };
    case 'commitMessage':
      return { action: { kind: 'commit', message: bounded('commit_message', a.commitMessage, MAX_MESSAGE_CHARS) }, tool, detail, decideSeq };
    case 'phase':
      return { action: { kind: 'phase', name: bounded('phase', a.phase, MAX_SHORT) }, tool, detail, decideSeq };
  }
}

export function toEventData(e: AgentEvent): AgentEventData {
  const type = String(e.type ?? '');
  if (!EVENT_TYPES.has(type)) {
    throw new LokiError('invalid_argument', `event type "${type.slice(0, 32)}" is not one of ${RUNNER_EVENT_TYPES.join(', ')}`);
  }
  const legacyStatus = String(e.legacyTaskStatus ?? '');
  const taskStatus = e.taskStatus ? taskStatusCodec.fromWire(e.taskStatus) : TASK_STATUS_SET.has(legacyStatus) ? legacyStatus : undefined;
  if (taskStatus === undefined) {
    throw new LokiError('invalid_argument', `task_status ${e.taskStatus ? String(e.taskStatus) : JSON.stringify(legacyStatus.slice(0, 32))} is not pending, in_progress, completed or failed`);
  }
  const dataJson = String(e.dataJson ?? '');
  if (dataJson.length > MAX_DATA_JSON_CHARS) throw new LokiError('payload_too_large', `data_json is longer than ${MAX_DATA_JSON_CHARS} characters`);
  const cost = typeof e.costUsd === 'number' && Number.isFinite(e.costUsd) && e.costUsd > 0 ? Math.min(e.costUsd, 1e6) : 0;
  return {
    type,
    message: clip(e.message, MAX_MESSAGE_CHARS),
    dataJson,
    iteration: nonNegInt(e.iteration),
    inputTokens: nonNegInt(e.inputTokens, 1e12),
    outputTokens: nonNegInt(e.outputTokens, 1e12),
    costUsd: cost,
    // Kept in the store and listed by `loki tasks` and the dashboards: clipped like every runner string,
    // and refused with a control, bidi or invisible character in it (the plan parser's rule, re-checked).
    taskId: checkText('task_id', clip(e.taskId, META_MAX.task), { max: META_MAX.task }),
    taskStatus,
    agent: checkText('agent', clip(e.agent, META_MAX.agent), { max: META_MAX.agent }),
    runnerSeq: nonNegInt(e.runnerSeq, Number.MAX_SAFE_INTEGER),
  };
}

export function toBriefMessage(b: SessionBriefData): SessionBrief {
  return {
    sessionId: b.sessionId,
    provider: providerCodec.toWire(b.provider),
    legacyProvider: b.provider,
    prompt: b.prompt,
    planJson: b.planJson,
    model: b.model,
    baseUrl: b.baseUrl,
    maxIterations: b.maxIterations,
    workspace: b.workspace,
    autonomyMode: autonomyCodec.toWire(isOneOf(AUTONOMY_MODES, b.autonomyMode) ? b.autonomyMode : ''),
    legacyAutonomyMode: b.autonomyMode,
    options: { ...b.options },
  };
}
