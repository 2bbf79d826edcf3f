import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../../common/src/index.js';
import { TOKENS_CONFIG_DEFAULTS, tokensConfigSchema, tokensEnvBindings } from '../../../daemon/src/tokens/config.js';

// Mounted the way daemon/src/config.ts mounts sections.
const schema = z.object({ tokens: tokensConfigSchema.default(tokensConfigSchema.parse({})) }).strict();

describe('tokens config', () => {
  it('defaults to 90 days, 10 active tokens per user and the viewer role', () => {
    const cfg = loadConfig({ schema, file: {}, env: {}, bindings: tokensEnvBindings });
    assert.deepEqual(cfg.tokens, { default_expiration_days: 90, max_active_per_user: 10, default_role: 'viewer', last_used_flush_ms: 5000 });
    assert.deepEqual(TOKENS_CONFIG_DEFAULTS, cfg.tokens);
  });

  it('reads LOKI_TOKENS_* over the file', () => {
    const cfg = loadConfig({
      schema,
      file: { tokens: { default_expiration_days: 30, max_active_per_user: 3 } },
      env: { LOKI_TOKENS_MAX_ACTIVE_PER_USER: '5', LOKI_TOKENS_DEFAULT_ROLE: 'operator' },
      bindings: tokensEnvBindings,
    });
    assert.equal(cfg.tokens.default_expiration_days, 30);
    assert.equal(cfg.tokens.max_active_per_user, 5);
    assert.equal(cfg.tokens.default_role, 'operator');
  });

  it('lists every problem: zero limits, unknown roles and unknown keys', () => {
    assert.throws(
      () =>
        loadConfig({
          schema,
          file: { tokens: { default_expiration_days: 0, max_active_per_user: 0, default_role: 'root', typo: 1 } },
          env: {},
          bindings: tokensEnvBindings,
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.problems.map((p) => p.split(':')[0]).sort();
        assert.deepEqual(paths, ['tokens', 'tokens.default_expiration_days', 'tokens.default_role', 'tokens.max_active_per_user']);
        return true;
      },
    );
  });
});
