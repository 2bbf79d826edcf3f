// The seam between the per-session agent channel (gRPC AgentService on a unix
// socket bind-mounted into one sandbox) and the session manager that decides.
import type { Provider } from '../../../common/src/vocab.js';
import type { SandboxMount } from '../sandbox/types.js';

export interface SessionBriefData {
  sessionId: string;
  provider: Provider;
  prompt: string;
  planJson: string;
  model: string;
  /** openai: the path prefix to use on the model socket (never the upstream's URL, never a key). */
  baseUrl: string;
  maxIterations: number;
  workspace: string;
  autonomyMode: string;
  options: Record<string, string>;
}

export type AgentActionData =
  | { kind: 'shell'; command: string }
  | { kind: 'write'; path: string }
  | { kind: 'read'; path: string }
  | { kind: 'delete'; path: string }
  | { kind: 'commit'; message: string }
  | { kind: 'phase'; name: string };

export interface AgentActionRequest {
  action: AgentActionData;
  tool: string;
  detail: string;
}

export interface AgentDecision {
  decision: 'allow' | 'deny';
  reason: string;
  rule: string;
  approvalId: string;
}

export interface AgentEventData {
  type: string;
  message: string;
  dataJson: string;
  iteration: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  taskId: string;
  taskStatus: string;
  agent: string;
}

/** Implemented by the session manager. `sessionId` always comes from the socket, never from the runner. */
export interface AgentChannelHooks {
  hello(sessionId: string, runner: { version: string; pid: number }): Promise<SessionBriefData>;
  /** Blocks while a decision is `ask` (waiting for a human); resolves allow or deny. */
  decide(sessionId: string, req: AgentActionRequest, signal: AbortSignal): Promise<AgentDecision>;
  report(sessionId: string, events: AgentEventData[]): Promise<{ stopRequested: boolean }>;
  heartbeat(sessionId: string, iteration: number): Promise<{ stopRequested: boolean }>;
}

export interface AgentChannel {
  sessionId: string;
  /** Host directory holding agent.sock; mount it at `containerDir` (read-write, this sandbox only). */
  mount: SandboxMount;
  /** Path of the socket inside the sandbox. */
  socketInSandbox: string;
}

export interface AgentChannels {
  /** Creates (or, after a daemon restart, re-creates) the listener for one session. */
  open(sessionId: string): Promise<AgentChannel>;
  close(sessionId: string): Promise<void>;
  closeAll(): Promise<void>;
}
