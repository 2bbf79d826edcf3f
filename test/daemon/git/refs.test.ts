import assert from 'node:assert/strict';
import { LokiError } from '../../../common/src/index.js';
import { loadConfig } from '../../../common/src/config.js';
import { z } from 'zod';
import { gitConfigSchema, gitEnvBindings } from '../../../daemon/src/git/config.js';
import { isProtectedBranch, isSessionBranch, sessionBranchName, validateBranchName } from '../../../daemon/src/git/refs.js';

describe('branch names and protected patterns', () => {
  it('protects main and master always, the configured globs, and nothing else', () => {
    const patterns = ['release/*', 'hotfix/**', 'v?'];
    for (const b of ['main', 'master', 'release/1.0', 'hotfix/a/b', 'v1']) assert.ok(isProtectedBranch(b, patterns), b);
    for (const b of ['release/1.0/x', 'feature/main', 'mainline', 'v10', 'loki/session-1-2']) assert.ok(!isProtectedBranch(b, patterns), b);
  });

  it('formats session branches as loki/session-<unix-timestamp>-<pid>-<random>', () => {
    assert.match(sessionBranchName(1_700_000_000, 4242), /^loki\/session-1700000000-4242-[0-9a-f]{8}$/);
    assert.ok(isSessionBranch(sessionBranchName(1_700_000_000, 4242)));
    // Branches made before the random part existed are still session branches (prune, bring-back).
    assert.ok(isSessionBranch('loki/session-1700000000-4242'));
    assert.ok(!isSessionBranch('loki/session-1700000000-4242-XYZ'));
    assert.ok(!isSessionBranch('main'));
    assert.ok(!isSessionBranch('loki/session-1-2/../main'));
    assert.throws(() => sessionBranchName(1, 0), /invalid pid/);
  });

  it('gives 5 session branches made in the same second by the same process 5 different names', () => {
    const names = Array.from({ length: 5 }, () => sessionBranchName(1_700_000_000, 4242));
    assert.equal(new Set(names).size, 5, names.join(' '));
  });

  it('rejects branch names git or the allow-list would not accept, including a leading dash', async () => {
    for (const bad of ['-f', '--upload-pack=x', 'a..b', 'a b', 'a~1', 'HEAD', 'x.lock', 'a//b', 'x/', '@{-1}', 'é']) {
      await assert.rejects(validateBranchName(bad), (e: unknown) => e instanceof LokiError && e.code === 'invalid_ref', bad);
    }
    assert.equal(await validateBranchName('feature/ok-1.2_x'), 'feature/ok-1.2_x');
  });

  it('reads protection settings from LOKI_* variables and reports every bad pattern in the config', () => {
    const schema = z.object({ git: gitConfigSchema.default(gitConfigSchema.parse({})) });
    const cfg = loadConfig({ schema, env: { LOKI_BRANCH_PROTECTION: 'false', LOKI_AUTO_PR: 'true', LOKI_PROTECTED_BRANCHES: 'main,release/*' }, bindings: gitEnvBindings });
    assert.equal(cfg.git.branch_protection, false);
    assert.equal(cfg.git.auto_pr, true);
    assert.deepEqual(cfg.git.protected_branches, ['main', 'release/*']);
    assert.equal(gitConfigSchema.parse({}).branch_protection, true);
    assert.throws(
      () => loadConfig({ schema, file: { git: { protected_branches: ['-x', 'ok/*', 'a b'], surprise: 1 } } }),
      (e: unknown) => e instanceof LokiError && /git.protected_branches.0: .*"-x"/.test(e.message) && /git.protected_branches.2/.test(e.message) && /surprise/.test(e.message),
    );
  });
});
