// Projects and policy over HTTP against a real daemon (real git repository,
// real policy engine): scopes (register/remove need `*`), DTOs, input errors.
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { makeRepo, removeDir } from '../daemon/sessions/helpers.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

describe('projects and policy HTTP API', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let repo: string;
  const tok: Record<string, string> = {};
  before(async () => {
    // Projects are owner-scoped; sharing "demo" by config is what lets the viewer read it.
    daemon = await startTestDaemon({ git: { shared_projects: ['demo'] } });
    repo = makeRepo();
    for (const [name, role] of [['admin', 'admin'], ['op', 'operator'], ['viewer', 'viewer']] as const) tok[name] = (await generateToken(daemon.adminSocket, { name, role })).secret;
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
    if (repo) removeDir(repo);
  });

  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, who: string, payload?: Record<string, unknown>) =>
    gw.app.inject({ method, url, headers: bearer(tok[who]!), ...(payload ? { payload } : {}) });

  describe('projects', () => {
    it('lets only an admin register a host path, and shows it to readers', async () => {
      assert.equal((await req('POST', '/api/projects', 'op', { path: repo })).statusCode, 403);
      const r = await req('POST', '/api/projects', 'admin', { path: repo, name: 'demo', protected_branches: ['release/*'] });
      assert.equal(r.statusCode, 201, r.body);
      const p = r.json<{ id: string; name: string; path: string; base_branch: string; remote: string | null; protected_branches: string[]; registered_by: string }>();
      assert.match(p.id, /^prj-[0-9a-f]{12}$/);
      assert.equal(p.path, realpathSync(repo));
      assert.equal(p.base_branch, 'main');
      assert.equal(p.remote, null);
      assert.deepEqual(p.protected_branches, ['release/*']);
      assert.equal(p.registered_by, 'token:admin');

      assert.deepEqual((await req('GET', '/api/projects', 'viewer')).json<{ projects: { id: string }[] }>().projects.map((x) => x.id), [p.id]);
      assert.equal((await req('GET', '/api/projects/demo', 'viewer')).json<{ id: string }>().id, p.id);
      assert.equal((await req('GET', `/api/projects/${p.id}`, 'viewer')).json<{ name: string }>().name, 'demo');
      assert.equal((await req('GET', '/api/projects/nope', 'viewer')).statusCode, 404);
    });

    it('refuses a relative path, a non-repository and unknown fields with 400', async () => {
      assert.equal((await req('POST', '/api/projects', 'admin', { path: 'relative/dir' })).statusCode, 400);
      const notRepo = await req('POST', '/api/projects', 'admin', { path: '/proc' });
      assert.equal(notRepo.statusCode, 400, notRepo.body);
      assert.equal((await req('POST', '/api/projects', 'admin', { path: repo, registered_by: 'someone' })).statusCode, 400);
    });

    it('lets only an admin remove a project', async () => {
      assert.equal((await req('DELETE', '/api/projects/demo', 'op')).statusCode, 403);
      const r = await req('DELETE', '/api/projects/demo', 'admin');
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { id: 'demo', removed: true });
      assert.deepEqual((await req('GET', '/api/projects', 'viewer')).json<{ projects: unknown[] }>().projects, []);
      assert.equal((await req('DELETE', '/api/projects/demo', 'admin')).statusCode, 404);
    });
  });

  describe('policy', () => {
    it('checks a command the way the daemon would decide it, recording nothing', async () => {
      const r = await req('POST', '/api/policy/check', 'viewer', { command: 'rm -rf /' });
      assert.equal(r.statusCode, 200, r.body);
      const d = r.json<{ decision: string; rule: string; normalized: string; commands: unknown[] }>();
      assert.equal(d.decision, 'deny');
      assert.ok(d.rule);
      assert.deepEqual(d.commands, []);
      const ok = (await req('POST', '/api/policy/check', 'viewer', { command: 'ls -la' })).json<{ decision: string }>();
      assert.equal(ok.decision, 'allow');
      const approvals = await req('GET', '/api/approvals?status=all', 'admin');
      assert.deepEqual(approvals.json<{ approvals: unknown[] }>().approvals, []);
    });

    it('explains each command inside a wrapper', async () => {
      const d = (await req('POST', '/api/policy/explain', 'viewer', { command: "bash -c 'echo hi && rm -rf /'" })).json<{ decision: string; commands: { normalized: string; via: string[]; decision: string }[] }>();
      assert.equal(d.decision, 'deny');
      assert.ok(d.commands.length >= 2, JSON.stringify(d.commands));
      assert.ok(d.commands.some((c) => c.decision === 'deny' && c.via.length > 0));
    });

    it('checks a path action', async () => {
      const d = (await req('POST', '/api/policy/check', 'viewer', { path: '/etc/passwd', kind: 'write' })).json<{ decision: string }>();
      assert.equal(d.decision, 'deny');
    });

    it('shows the profiles', async () => {
      const s = (await req('GET', '/api/policy', 'viewer')).json<{ default_profile: string; profiles: { name: string; rules: unknown[] }[]; protected_paths: string[] }>();
      assert.ok(s.default_profile);
      assert.ok(s.profiles.some((p) => p.name === s.default_profile && p.rules.length > 0));
      const one = (await req('GET', `/api/policy?profile=${s.default_profile}`, 'viewer')).json<{ profiles: unknown[] }>();
      assert.equal(one.profiles.length, 1);
      assert.equal((await req('GET', '/api/policy?profile=no-such-profile', 'viewer')).statusCode, 400);
    });

    it('answers 400 naming the field for bad input, never 500', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{}, /nothing to check/],
        [{ command: 'ls', path: '/x', kind: 'read' }, /not both/],
        [{ path: '/x' }, /body\/kind/],
        [{ command: '   ' }, /empty/],
        [{ command: 'ls', session_id: 'x' }, /session_id/],
        [{ command: 'ls', cwd: 'relative' }, /cwd/],
        [{ command: 'ls', kind: 'exec', path: '/x' }, /kind/],
      ];
      for (const [body, re] of cases) {
        const r = await req('POST', '/api/policy/check', 'viewer', body);
        assert.equal(r.statusCode, 400, `${JSON.stringify(body)} → ${r.body}`);
        assert.match(r.json().error.message, re);
      }
      assert.equal((await req('POST', '/api/policy/check', 'viewer', { command: 'ls', session_id: 'ses-000000000000' })).statusCode, 404, 'deciding as a session needs that session to be visible');
    });
  });
});
