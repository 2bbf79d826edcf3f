// The daemon config section `sessions` (daemon/src/config.ts validates it under that key).
import { z } from 'zod';
import { PROVIDERS, parseBytes, type DeepReadonly, type EnvBinding } from '../../../common/src/index.js';

const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const httpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}, 'expected an http(s) URL without credentials in it');

const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseBytes(v);
  if (n === undefined || n < 0) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 512m or 10g, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

/** A model endpoint named by the admin. Its key is added on the host by the model proxy; it never enters a sandbox. */
const upstreamSchema = z
  .object({
    base_url: httpUrl,
    /** Secret: never logged, stored or sent anywhere but this upstream. */
    api_key: z.string().default(''),
    /** Or: the environment variable holding the key (read once at startup). */
    api_key_env: z.string().regex(ENV_NAME, 'expected an environment variable name').optional(),
  })
  .strict();

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
    default_provider: z.enum(PROVIDERS).default('script'),
    default_max_iterations: z.number().int().positive().max(100_000).default(50),
    /** The sandbox's main process; the runner bundle is mounted at /opt/loki/agent-runner.cjs. */
    runner_command: z.array(z.string().min(1)).min(1).default(['node', '/opt/loki/agent-runner.cjs']),
    /** Image for `--provider claude` sessions: the base image plus Claude Code (`loki sandbox build --with-claude`). */
    claude_image: z.string().min(1).default('loki-sandbox:claude'),
    /** Largest PRD / prompt accepted. */
    max_prompt_bytes: z.number().int().positive().default(1024 * 1024),
    /** Terminal sessions kept in loki_* per-session metric series (bounded label cardinality). */
    metrics_recent_terminal: z.number().int().min(0).max(1000).default(10),
    /** Per-session caps on what a runner can make the daemon store: a looping agent hits a clear error instead of filling the disk. */
    quotas: z
      .object({
        events: z.number().int().positive().max(10_000_000).default(20_000),
        tasks: z.number().int().positive().max(1_000_000).default(1_000),
        learnings: z.number().int().positive().max(1_000_000).default(200),
        approvals: z.number().int().positive().max(1_000_000).default(500),
      })
      .strict()
      .prefault({}),
    openai: z
      .object({
        /** The `default` upstream's URL (shorthand for upstreams.default.base_url). */
        base_url: z.string().default(''),
        model: z.string().default(''),
        /** Secret: the default upstream's key when it names none of its own. Added by the host-side model proxy; never enters a sandbox. */
        api_key: z.string().default(''),
        api_key_env: z.string().regex(ENV_NAME, 'expected an environment variable name').optional(),
        /** Named upstreams a session may pick (`upstream`); remote callers can reach no other URL. */
        upstreams: z.record(z.string().regex(UPSTREAM_NAME, 'expected an upstream name such as "ollama" or "openai"'), upstreamSchema).default({}),
        /** The upstream used when a start request names none (empty: `default`, or the only one configured). */
        default_upstream: z.string().default(''),
        /** USD per 1M tokens, for cost accounting when the runner reports none. */
        input_usd_per_mtok: z.number().min(0).default(0),
        output_usd_per_mtok: z.number().min(0).default(0),
      })
      .strict()
      .prefault({}),
    /** Claude Code sessions reach Anthropic through the host-side model proxy, which adds this key. */
    claude: z
      .object({
        base_url: httpUrl.default('https://api.anthropic.com'),
        api_key: z.string().default(''),
        api_key_env: z.string().regex(ENV_NAME, 'expected an environment variable name').optional(),
      })
      .strict()
      .prefault({}),
    workspace: z
      .object({
        /** Per-session workspace size (a loop-mounted ext4 image): the agent gets ENOSPC beyond it. 0 = no limit. */
        max_size: size.refine((n) => n === 0 || n >= 16 * 1024 ** 2, 'must be 0 (no limit) or at least 16m (an ext4 file system needs room for its metadata)').default(10 * 1024 ** 3),
        /** New sessions are refused when the state directory's filesystem would have less free space than this after a full workspace. */
        min_free: size.default(2 * 1024 ** 3),
        /**
         * How the limit is enforced: `mount` (a loop-mounted ext4 image: ENOSPC at the limit; needs root with
         * CAP_SYS_ADMIN in dockerd's mount namespace), `watch` (the daemon measures the workspace every few seconds
         * and stops the session over the limit), or `auto` (mount when possible, else watch, with a warning).
         */
        enforce: z.enum(['auto', 'mount', 'watch']).default('auto'),
        /** Ended sessions' workspaces (and containers) are removed this long after the session ended (0 = keep until `loki sessions rm/prune`). */
        retention_hours: z.number().min(0).max(24 * 365 * 10).default(24 * 7),
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
  { env: 'LOKI_ANTHROPIC_API_KEY', path: 'sessions.claude.api_key', type: 'string' },
  { env: 'LOKI_ANTHROPIC_BASE_URL', path: 'sessions.claude.base_url', type: 'string' },
  { env: 'LOKI_WORKSPACE_MAX_SIZE', path: 'sessions.workspace.max_size', type: 'string' },
  { env: 'LOKI_WORKSPACE_MIN_FREE', path: 'sessions.workspace.min_free', type: 'string' },
  { env: 'LOKI_WORKSPACE_ENFORCE', path: 'sessions.workspace.enforce', type: 'string' },
  { env: 'LOKI_WORKSPACE_RETENTION_HOURS', path: 'sessions.workspace.retention_hours', type: 'number' },
];

export function defaultSessionsConfig(overrides: Partial<z.input<typeof sessionsConfigSchema>> = {}): SessionsConfig {
  return sessionsConfigSchema.parse(overrides);
}
