// `lokid --check-config` must refuse every config that lokid's start refuses.
// It used to validate only the config schema and print "config OK" for a
// policy that the start then refused ("invalid policy": an unknown
// default_profile, a rule whose match/not_match example fails). Real lokid
// processes, real config files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { entryArgv, shortTempDir } from '../helpers/entry.js';

const run = async (args: string[], env: Record<string, string> = {}) => {
  try {
    const r = await promisify(execFile)(process.execPath, [...entryArgv('daemon'), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
};

describe('lokid --check-config checks the policy as the start does', function () {
  this.timeout(60_000);
  let home: string;
  before(() => {
    home = shortTempDir('lkcc');
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it('refuses an unknown default profile and a failing rule example (file and env), with every problem and exit 2', async () => {
    const file = join(home, 'bad.yaml');
    writeFileSync(file, ['policy:', '  default_profile: nope', '  rules:', '    - effect: deny', '      pattern: "git push -f"', '      not_match: ["git push -f origin"]', ''].join('\n'));
    const bad = await run(['--check-config', '--home', home, '--config', file]);
    assert.equal(bad.code, 2, bad.out + bad.err);
    assert.doesNotMatch(bad.out, /config OK/);
    assert.match(bad.err, /invalid policy:/);
    assert.match(bad.err, /policy\.default_profile: unknown profile "nope" \(known: default, strict, read-only-auto\)/);
    assert.match(bad.err, /policy\.rules\[0\] \(config:deny:git push -f\): example "git push -f origin" should not match "git push -f" but does/);
    assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');

    const env = await run(['--check-config', '--home', home], { LOKI_POLICY_PROFILE: 'nope' });
    assert.equal(env.code, 2, env.out + env.err);
    assert.match(env.err, /policy\.default_profile: unknown profile "nope"/);
  });

  it('still says config OK for a good config', async () => {
    const file = join(home, 'good.yaml');
    writeFileSync(file, ['policy:', '  default_profile: strict', '  rules:', '    - effect: deny', '      pattern: "git push -f"', '      match: ["git push -f origin"]', ''].join('\n'));
    const ok = await run(['--check-config', '--home', home, '--config', file]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /config OK/);
  });
});
