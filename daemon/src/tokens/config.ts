// The `tokens` section of lokid's config (mounted by daemon/src/config.ts).
import { z } from 'zod';
import type { DeepReadonly, EnvBinding } from '../../../common/src/index.js';

export const tokensConfigSchema = z
  .object({
    /** Used when a request does not say `expires_days`. */
    default_expiration_days: z.number().int().min(1).max(3650).default(90),
    /** Active (unrevoked, unexpired) tokens one subject may own; the bootstrap token counts. */
    max_active_per_user: z.number().int().min(1).max(10_000).default(10),
    /** Role for a token requested with neither role nor scopes (least privilege). */
    default_role: z.enum(['admin', 'operator', 'viewer', 'auditor']).default('viewer'),
    /** How often batched last-used timestamps are written (the verify path never writes). */
    last_used_flush_ms: z.number().int().min(100).max(60_000).default(5000),
  })
  .strict();

export type TokensConfig = DeepReadonly<z.infer<typeof tokensConfigSchema>>;

export const TOKENS_CONFIG_DEFAULTS: TokensConfig = Object.freeze(tokensConfigSchema.parse({}));

export const tokensEnvBindings: readonly EnvBinding[] = [
  { env: 'LOKI_TOKENS_DEFAULT_EXPIRATION_DAYS', path: 'tokens.default_expiration_days', type: 'int' },
  { env: 'LOKI_TOKENS_MAX_ACTIVE_PER_USER', path: 'tokens.max_active_per_user', type: 'int' },
  { env: 'LOKI_TOKENS_DEFAULT_ROLE', path: 'tokens.default_role', type: 'string' },
];
