// The daemon config section `sessions` (the lead mounts it under that key).
import { z } from 'zod';
import type { DeepReadonly, EnvBinding } from '../../../common/src/index.js';

export const sessionsConfigSchema = z
  .object({
    max_concurrent: z.number().int().positive().max(1000).default(4),
    /** No event for this long while running → a `stall` event (0 = off). Waiting for approval or paused is never a stall. */
    stall_seconds: z.number().int().min(0).default(300),
    /** No event for this long while running → the session is stopped (0 = off). */
    idle_timeout_seconds: z.number().int().min(0).default(3600),
    /** After `stop`, how long the runner has to finish before the container is stopped. */
    stop_grace_seconds: z.number().int().min(0).max(3600).default(10),
    /** How often stalls, idle sessions and exited containers are checked. */
    check_interval_ms: z.number().int().min(100).max(60_000).default(2000),
    default_provider: z.enum(['script', 'openai', 'claude']).default('script'),
    default_max_iterations: z.number().int().positive().max(100_000).default(50),
    /** The sandbox's main process; the runner bundle is mounted at /opt/loki/agent-runner.cjs. */
    runner_command: z.array(z.string().min(1)).min(1).default(['node', '/opt/loki/agent-runner.cjs']),
    /** Image for `--provider claude` sessions: the base image plus Claude Code (`loki sandbox build --with-claude`). */
    claude_image: z.string().min(1).default('loki-sandbox:claude'),
    /** Largest PRD / prompt accepted. */
    max_prompt_bytes: z.number().int().positive().default(1024 * 1024),
    /** Terminal sessions kept in loki_* per-session metric series (bounded label cardinality). */
    metrics_recent_terminal: z.number().int().min(0).max(1000).default(10),
    openai: z
      .object({
        base_url: z.string().default(''),
        model: z.string().default(''),
        /** Secret: handed to the runner in its session brief only; never logged or stored. */
        api_key: z.string().default(''),
        /** USD per 1M tokens, for cost accounting when the runner reports none. */
        input_usd_per_mtok: z.number().min(0).default(0),
        output_usd_per_mtok: z.number().min(0).default(0),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type SessionsConfig = DeepReadonly<z.infer<typeof sessionsConfigSchema>>;

export const sessionsEnvBindings: EnvBinding[] = [
  { env: 'LOKI_MAX_SESSIONS', path: 'sessions.max_concurrent', type: 'int' },
  { env: 'LOKI_STALL_SECONDS', path: 'sessions.stall_seconds', type: 'int' },
  { env: 'LOKI_IDLE_TIMEOUT', path: 'sessions.idle_timeout_seconds', type: 'int' },
  { env: 'LOKI_PROVIDER', path: 'sessions.default_provider', type: 'string' },
  { env: 'LOKI_MAX_ITERATIONS', path: 'sessions.default_max_iterations', type: 'int' },
  { env: 'LOKI_OPENAI_BASE_URL', path: 'sessions.openai.base_url', type: 'string' },
  { env: 'LOKI_OPENAI_MODEL', path: 'sessions.openai.model', type: 'string' },
  { env: 'LOKI_OPENAI_API_KEY', path: 'sessions.openai.api_key', type: 'string' },
];

export function defaultSessionsConfig(overrides: Partial<z.input<typeof sessionsConfigSchema>> = {}): SessionsConfig {
  return sessionsConfigSchema.parse(overrides);
}
