import type { SessionBrief } from '../../../proto/gen/loki/v1/agent.js';
import type { Actor } from '../actor.js';
import type { AgentLink, Reporter } from '../channel.js';

export interface ProviderContext {
  brief: SessionBrief;
  actor: Actor;
  reporter: Reporter;
  link: AgentLink;
  log: (msg: string) => void;
  /** The path of this runner bundle inside the sandbox (the claude hook command runs it). */
  runnerPath: string;
}

export interface ProviderResult {
  /** Shown in the `finished` event. */
  summary: string;
  data?: Record<string, unknown>;
}

export type Provider = (ctx: ProviderContext) => Promise<ProviderResult>;

export class ProviderError extends Error {}
