// Domain types of agent sessions (the gRPC adapter converts them at the wire).

// The value lists are defined once in common/src/vocab.ts.
import type { SessionWorkspace } from '../policy/grpc.js';
import { SANDBOX_WORKSPACE } from '../sandbox/types.js';
import { ACTIVE_SESSION_STATES, TERMINAL_SESSION_STATES, isTerminalState, type SessionState, type Provider, type TaskStatus } from '../../../common/src/vocab.js';

export type { SessionState, Provider, TaskStatus } from '../../../common/src/vocab.js';
export { PROVIDERS, TASK_STATUSES } from '../../../common/src/vocab.js';
export const TERMINAL_STATES: readonly SessionState[] = TERMINAL_SESSION_STATES;
export const ACTIVE_STATES: readonly SessionState[] = ACTIVE_SESSION_STATES;

export function isTerminal(s: SessionState): boolean {
  return isTerminalState(s);
}

export interface Session {
  id: string;
  owner: string;
  state: SessionState;
  provider: Provider;
  profile: string;
  autonomy: string;
  projectId: string;
  /** Where the prompt came from: the PRD path, or `inline`. */
  promptSource: string;
  model: string;
  baseUrl: string;
  /** The model upstream's name (sessions.openai.upstreams / sessions.claude); empty = none (keyless URL). */
  upstream: string;
  maxIterations: number;
  network: boolean;
  sandboxId: string;
  workspace: string;
  branch: string;
  createdAtMs: number;
  startedAtMs: number;
  endedAtMs: number;
  lastEventAtMs: number;
  iteration: number;
  agentsActive: number;
  agentsTotal: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  eventsTotal: number;
  stopRequested: boolean;
  /** Why the session failed or stopped (empty otherwise). */
  reason: string;
  /** Tasks currently in each status. */
  tasks: Record<TaskStatus, number>;
  /** Tasks that ever reached each status (monotonic). */
  tasksReached: Record<TaskStatus, number>;
  decisions: { allow: number; deny: number; ask: number };
  /** When the workspace and container were removed (retention, rm, prune); 0 = still there. */
  workspaceRemovedAtMs: number;
}

/**
 * The one answer to "where is this session's workspace" for every decision made for it:
 * its agent channel, PolicyService Decide and Explain (`loki policy check --session`).
 */
export function sessionWorkspace(s: Pick<Session, 'workspace'>): SessionWorkspace {
  return { sandbox: SANDBOX_WORKSPACE, ...(s.workspace ? { host: s.workspace } : {}) };
}

export interface SessionEvent {
  sessionId: string;
  /** Per-session sequence number, 1, 2, 3 … without gaps. */
  seq: number;
  /** Daemon-wide cursor for the all-sessions stream. */
  gid: number;
  timeMs: number;
  type: string;
  message: string;
  data: Record<string, unknown>;
}

export interface StartSessionInput {
  /** PRD path (absolute, or relative to the project). */
  prd: string;
  /** Inline prompt (instead of a PRD file). */
  prompt: string;
  provider: string;
  /** Script provider: the plan (JSON or YAML text of a list of steps). */
  plan: string;
  profile: string;
  autonomy: string;
  /** Project id or name; empty = the project at `projectPath`, or the only registered project. */
  project: string;
  /** The caller's working tree (local CLI): the project registered at this path. */
  projectPath: string;
  model: string;
  baseUrl: string;
  /** A configured model upstream by name (empty/absent = the default). */
  upstream?: string;
  maxIterations: number;
  /** Second key for network access (the daemon's sandbox config is the first). */
  network: boolean;
}
