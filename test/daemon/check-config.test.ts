// `lokid --check-config` as an operator runs it (docs/DEPLOYMENT.md): a real lokid process,
// a config file with mistakes, every problem printed as `path: message`, exit code 2.
// It must refuse every config that lokid's start refuses: it used to validate only the
// config schema and print "config OK" for a policy the start then refused ("invalid
// policy": an unknown default_profile, a rule whose match/not_match example fails).
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY } from '../deploy/helpers.js';
import { runEntry, shortTempDir } from '../helpers/entry.js';

const lokid = (args: string[], env: Record<string, string> = {}) => runEntry('daemon', args, env);

/** Writes `yaml` as the config and runs `lokid --check-config` on it; stdout and stderr together. */
async function checkConfig(dir: string, yaml: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const file = join(dir, 'lokid.yaml');
  writeFileSync(file, yaml);
  const r = await lokid(['--check-config', '--config', file, '--home', join(dir, 'home')], env);
  return { code: r.code, out: r.out + r.err };
}

describe('lokid --check-config', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = shortTempDir('h9cc');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names the valid values of a wrong OIDC default role and anonymous gateway role (not "Invalid input")', async () => {
    const r = await checkConfig(dir, 'auth:\n  gateway_anonymous_role: root\n  oidc:\n    issuer: https://idp.example.com\n    client_id: loki\n    default_role: superuser\n');
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /auth\.oidc\.default_role: .*"admin".*"operator".*"viewer".*"auditor".*"none"/);
    assert.match(r.out, /auth\.gateway_anonymous_role: .*"viewer".*"none"/);
    assert.doesNotMatch(r.out, /Invalid input/);
  });
  it('reports a socket group that does not exist and a socket mode open to every local user, before anything is bound', async () => {
    const r = await checkConfig(dir, 'sockets:\n  admin_mode: "0666"\n  admin_group: no-such-group-h9\n  gateway_mode: "0777"\n');
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /sockets\.admin_group: group "no-such-group-h9" does not exist/);
    assert.match(r.out, /sockets\.admin_mode: 0666 lets every local user open admin\.sock/);
    assert.match(r.out, /sockets\.gateway_mode: 0777 lets every local user open gateway\.sock/);
    assert.doesNotMatch(r.out, /config OK/);
  });

  it('refuses a policy.workspace other than the sandbox\'s workspace (the agent channel always decides against /workspace), naming what to use instead', async () => {
    // It used to be accepted, and only Decide and Explain used it: `loki policy check --session` then
    // said deny for writes the agent was allowed (/workspace/a.txt) and allow for ones it was denied.
    const r = await checkConfig(dir, 'policy:\n  workspace: /srv/app\n');
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /policy\.workspace: every sandbox has its session's workspace at \/workspace .*can only be "\/workspace" \(got "\/srv\/app"\); .*policy\.allowed_paths.*policy\.path_aliases/);
    assert.doesNotMatch(r.out, /config OK|\n\s+at /);
    const same = await checkConfig(dir, 'policy:\n  workspace: /workspace/\n');
    assert.equal(same.code, 0, same.out);
  });

  it('accepts the shipped systemd config (0660 with the loki-admin / loki-gateway groups) when the groups exist', async function () {
    const groups = readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')[0]);
    if (!groups.includes('loki-admin') || !groups.includes('loki-gateway')) this.skip();
    const r = await checkConfig(dir, readFileSync(join(DEPLOY, 'systemd', 'lokid.yaml'), 'utf8'));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /config OK/);
  });
});

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
    const bad = await lokid(['--check-config', '--home', home, '--config', file]);
    assert.equal(bad.code, 2, bad.out + bad.err);
    assert.doesNotMatch(bad.out, /config OK/);
    assert.match(bad.err, /invalid policy:/);
    assert.match(bad.err, /policy\.default_profile: unknown profile "nope" \(known: default, strict, read-only-auto\)/);
    assert.match(bad.err, /policy\.rules\[0\] \(config:deny:git push -f\): example "git push -f origin" should not match "git push -f" but does/);
    assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');

    const env = await lokid(['--check-config', '--home', home], { LOKI_POLICY_PROFILE: 'nope' });
    assert.equal(env.code, 2, env.out + env.err);
    assert.match(env.err, /policy\.default_profile: unknown profile "nope"/);
  });

  it('refuses a model key lokid could not use (api_key_env unset, or a key with a trailing newline) without quoting it', async () => {
    const file = join(home, 'keys.yaml');
    writeFileSync(file, ['sessions:', '  openai:', '    upstreams:', '      cloud:', '        base_url: https://api.example.com/v1', '        api_key_env: H12_CLOUD_KEY', ''].join('\n'));
    const unset = await lokid(['--check-config', '--home', home, '--config', file]);
    assert.equal(unset.code, 2, unset.out + unset.err);
    assert.doesNotMatch(unset.out, /config OK/);
    assert.match(unset.err, /sessions\.openai\.upstreams\.cloud\.api_key_env names H12_CLOUD_KEY, which is not set/);

    // `export KEY=$(cat key.txt)` keeps no newline, but env files and YAML block scalars do:
    // the model proxy could not send such a header, and lokid used to crash on the first model request.
    const block = join(home, 'block.yaml');
    writeFileSync(block, ['sessions:', '  claude:', '    api_key: |', '      sk-ant-h12-secret', ''].join('\n'));
    for (const [config, env] of [[file, { H12_CLOUD_KEY: 'sk-h12-secret-77\n' }], [block, {}]] as const) {
      const bad = await lokid(['--check-config', '--home', home, '--config', config], env);
      assert.equal(bad.code, 2, bad.out + bad.err);
      assert.doesNotMatch(bad.out, /config OK/);
      assert.match(bad.err, /(sessions\.openai\.upstreams\.cloud\.api_key_env \(H12_CLOUD_KEY\)|sessions\.claude\.api_key) holds a character an HTTP header cannot carry/);
      assert.doesNotMatch(bad.err, /secret/, 'the key is never quoted');
      assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');
    }
    const good = await lokid(['--check-config', '--home', home, '--config', file], { H12_CLOUD_KEY: 'sk-ok' });
    assert.equal(good.code, 0, good.err);
  });

  it('still says config OK for a good config', async () => {
    const file = join(home, 'good.yaml');
    writeFileSync(file, ['policy:', '  default_profile: strict', '  rules:', '    - effect: deny', '      pattern: "git push -f"', '      match: ["git push -f origin"]', ''].join('\n'));
    const ok = await lokid(['--check-config', '--home', home, '--config', file]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /config OK/);
  });
});
