// The seam between the per-session agent channel (gRPC AgentService on a unix
// socket that the sandbox driver carries into one sandbox) and the session manager that decides.
import type { Provider } from '../../../common/src/vocab.js';
import type { AgentChannelTransport } from '../sandbox/types.js';

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
  /** The runner's number for this Decide (0: not numbered); the same number again is answered as before. */
  decideSeq: number;
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
  /** The runner's number for the event (0: none); lokid records each number once. */
  runnerSeq: number;
}

/** Implemented by the session manager. `sessionId` always comes from the socket, never from the runner. */
export interface AgentChannelHooks {
  /** `channel`: where this session's channel sockets are inside its sandbox (the driver decided). */
  hello(sessionId: string, runner: { version: string; pid: number }, channel?: { modelSocketInSandbox: string }): Promise<SessionBriefData>;
  /** Blocks while a decision is `ask` (waiting for a human); resolves allow or deny. */
  decide(sessionId: string, req: AgentActionRequest, signal: AbortSignal): Promise<AgentDecision>;
  report(sessionId: string, events: AgentEventData[]): Promise<{ stopRequested: boolean }>;
  heartbeat(sessionId: string, iteration: number): Promise<{ stopRequested: boolean }>;
}

export interface AgentChannel {
  sessionId: string;
  /** Host directory the daemon binds this session's sockets (agent.sock, model.sock) in. */
  hostDir: string;
  /** How the sandbox reaches them, from its driver: give it to the sandbox's start untouched. */
  transport: AgentChannelTransport;
  /** Path of the socket inside the sandbox. */
  socketInSandbox: string;
}

/** Who carries a channel into its sandbox: the sandbox manager (its driver). */
export interface AgentChannelCarrier {
  agentChannelMount(sessionId: string, hostDir: string): AgentChannelTransport;
}

export interface AgentChannels {
  /** Creates (or, after a daemon restart, re-creates) the listener for one session. */
  open(sessionId: string): Promise<AgentChannel>;
  close(sessionId: string): Promise<void>;
  closeAll(): Promise<void>;
}
