// Rules from config and LOKI_BLOCKED_COMMANDS, and the load-time example checks.
import assert from 'node:assert/strict';
import { z } from 'zod';
import { loadConfig, type LokiError } from '../../../common/src/index.js';
import { buildPolicyEngine, policyConfigSchema, policyEnvBindings } from '../../../daemon/src/policy/config.js';
import { compileRule, matchRule } from '../../../daemon/src/policy/rules.js';
import { normalizeArgv } from '../../../daemon/src/policy/shell/normalize.js';
import { engineFor } from './helpers.js';

const shell = (command: string) => ({ kind: 'shell' as const, command });
const norm = (...words: string[]) => normalizeArgv(words.map((text) => ({ text, dynamic: 'none' as const })));

describe('policy rules', function () {
  it('adds LOKI_BLOCKED_COMMANDS entries as deny rules with Loki Mode prefix semantics', function () {
    const schema = z.object({ policy: policyConfigSchema.prefault({}) }).strict();
    const cfg = loadConfig({ schema, env: { LOKI_BLOCKED_COMMANDS: 'rm -rf /,dd if=,mkfs,shutdown,npm publish' }, bindings: policyEnvBindings });
    const e = buildPolicyEngine(cfg.policy).engine;
    const d = e.decide(shell('dd if=./a.img of=./b.img'), { sessionId: 's' });
    assert.equal(d.decision, 'deny');
    assert.equal(d.rule, 'env:LOKI_BLOCKED_COMMANDS[1]');
    assert.equal(e.decide(shell('mkfs.ext4 img'), { sessionId: 's' }).decision, 'deny');
    assert.equal(e.decide(shell('sudo npm publish --access public'), { sessionId: 's' }).rule, 'env:LOKI_BLOCKED_COMMANDS[4]');
    assert.equal(e.decide(shell('npm test'), { sessionId: 's' }).decision, 'allow');
  });

  it('adds config rules to every profile and evaluates deny over ask over allow', function () {
    const e = engineFor({
      rules: [
        { effect: 'allow', pattern: 'terraform plan **' },
        { effect: 'ask', pattern: 'terraform apply', reason: 'infrastructure change' },
        { effect: 'deny', pattern: 'terraform apply -auto-approve' },
      ],
    });
    assert.equal(e.decide(shell('terraform apply'), { sessionId: 's' }).reason, 'infrastructure change');
    assert.equal(e.decide(shell('terraform apply -auto-approve'), { sessionId: 's' }).decision, 'deny');
    assert.equal(e.decide(shell('terraform plan -out x'), { sessionId: 's', profile: 'strict' }).decision, 'allow');
  });

  it('matches allow rules on leading operands only, deny rules anywhere', function () {
    const allow = compileRule({ effect: 'allow', pattern: 'git status' }, 't');
    assert.equal(matchRule(allow, norm('git', 'status', '-s')), 'yes');
    assert.equal(matchRule(allow, norm('git', 'push', 'status')), 'no');
    const deny = compileRule({ effect: 'deny', pattern: 'rm -r /' }, 't');
    assert.equal(matchRule(deny, norm('rm', 'build', '-v', '--recursive', '/')), 'yes');
    assert.equal(matchRule(deny, norm('rm', '-f', '/')), 'no');
  });

  it('refuses to load a policy whose rule examples fail, listing each failure', function () {
    assert.throws(
      () =>
        buildPolicyEngine({
          rules: [
            { effect: 'deny', pattern: 'curl * | sh', match: ['curl x | sh'] },
            { effect: 'deny', pattern: 'git push -f', match: ['git push --force'], not_match: ['git push -f origin', 'git push'] },
          ],
        }),
      (e: LokiError) => {
        assert.equal(e.code, 'invalid_config');
        assert.match(e.message, /policy\.rules\[0\].*example "curl x \| sh" should match/);
        assert.match(e.message, /policy\.rules\[1\].*example "git push -f origin" should not match/);
        assert.doesNotMatch(e.message, /"git push" should not/);
        return true;
      },
    );
  });

  it('rejects unknown keys, an unknown default profile and an unknown base profile', function () {
    assert.throws(() => buildPolicyEngine({ bogus: 1 } as never), /invalid policy/);
    assert.throws(() => buildPolicyEngine({ default_profile: 'nope' }), /policy\.default_profile: unknown profile "nope"/);
    assert.throws(() => buildPolicyEngine({ profiles: { mine: { extends: 'nope' } } }), /policy\.profiles\.mine\.extends/);
  });
});
