// The project registry over HTTP against a real daemon and real git
// repositories: owner scoping between two tokens, registration inside the
// configured roots only (admins anywhere), idempotent register, aliases,
// discovery (symlink loop inside the root), health, sync, tasks, and clear 4xx
// answers to bad input.
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hostGit, tempDir } from '../daemon/git/helpers.js';
import { bearer, buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

function repo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  hostGit(dir, 'init', '-q', '-b', 'main');
  hostGit(dir, 'commit', '-q', '--allow-empty', '-m', 'initial');
  return dir;
}

interface P {
  id: string;
  name: string;
  alias: string | null;
  shared: boolean;
  registered_by: string;
}

describe('registry HTTP API (owner-scoped projects, discovery, health, sync, tasks)', () => {
  let daemon: TestDaemon;
  let gw: TestGateway;
  let base: string;
  let roots: string;
  let outside: string;
  const tok: Record<string, string> = {};

  before(async () => {
    base = realpathSync(tempDir('loki-reg-gw-'));
    roots = join(base, 'roots');
    for (const n of ['alpha', 'beta', 'gamma', 'team/shared-one']) repo(join(roots, n));
    symlinkSync(roots, join(roots, 'loop'));
    outside = repo(join(base, 'elsewhere', 'private'));
    daemon = await startTestDaemon({ git: { registry_roots: [roots], shared_projects: ['shared-one'] } });
    for (const [name, role] of [['admin', 'admin'], ['alice', 'operator'], ['bob', 'operator'], ['viewer', 'viewer']] as const) {
      tok[name] = (await generateToken(daemon.adminSocket, { name, role })).secret;
    }
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000 } } });
  });
  after(async () => {
    await gw?.close();
    await daemon?.close();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, who: string, payload?: Record<string, unknown>) =>
    gw.app.inject({ method, url, headers: bearer(tok[who]!), ...(payload ? { payload } : {}) });
  const names = async (who: string) => (await req('GET', '/api/registry/projects', who)).json<{ projects: P[] }>().projects.map((p) => p.name);

  it('lets an operator register inside the registry roots (idempotently, with an alias) and scopes what each token sees', async () => {
    const a = await req('POST', '/api/registry/projects', 'alice', { path: join(roots, 'alpha'), alias: 'a1' });
    assert.equal(a.statusCode, 201, a.body);
    const alpha = a.json<P>();
    assert.deepEqual([alpha.name, alpha.alias, alpha.registered_by, alpha.shared], ['alpha', 'a1', 'token:alice', false]);
    const again = await req('POST', '/api/registry/projects', 'alice', { path: join(roots, 'alpha') });
    assert.equal(again.json<P>().id, alpha.id, 'registering the same repository again is the same project');

    assert.equal((await req('POST', '/api/registry/projects', 'bob', { path: join(roots, 'beta') })).statusCode, 201);
    assert.equal((await req('POST', '/api/registry/projects', 'bob', { path: join(roots, 'team', 'shared-one') })).statusCode, 201);

    assert.deepEqual(await names('alice'), ['alpha', 'shared-one']);
    assert.deepEqual(await names('bob'), ['beta', 'shared-one']);
    assert.deepEqual(await names('viewer'), ['shared-one']);
    assert.deepEqual(await names('admin'), ['alpha', 'beta', 'shared-one']);
    // the historical route serves the same handler
    assert.deepEqual((await req('GET', '/api/projects', 'alice')).json<{ projects: P[] }>().projects.map((p) => p.name), ['alpha', 'shared-one']);

    // another owner's project looks exactly like a missing one
    for (const ref of ['alpha', 'a1', alpha.id]) {
      assert.equal((await req('GET', `/api/registry/projects/${ref}`, 'bob')).statusCode, 404);
      assert.equal((await req('GET', `/api/registry/projects/${ref}`, 'alice')).json<P>().id, alpha.id);
    }
    assert.equal((await req('DELETE', '/api/registry/projects/alpha', 'bob')).statusCode, 404);
    assert.equal((await req('GET', '/api/registry/projects/alpha/health', 'bob')).statusCode, 404);
    // bob re-registering alice's repository does not hand it over
    const steal = await req('POST', '/api/registry/projects', 'bob', { path: join(roots, 'alpha') });
    assert.equal(steal.statusCode, 409, steal.body);
    // shared means readable, not removable
    const rm = await req('DELETE', '/api/registry/projects/shared-one', 'alice');
    assert.equal(rm.statusCode, 403, rm.body);
    assert.match(rm.json<{ error: { message: string } }>().error.message, /registered by token:bob/);
  });

  it('refuses an operator outside the roots but lets an admin register anywhere', async () => {
    const r = await req('POST', '/api/registry/projects', 'alice', { path: outside });
    assert.equal(r.statusCode, 403, r.body);
    assert.match(r.json<{ error: { message: string } }>().error.message, /outside the registry roots/);
    assert.equal((await req('POST', '/api/registry/projects', 'viewer', { path: join(roots, 'gamma') })).statusCode, 403);
    const adm = await req('POST', '/api/registry/projects', 'admin', { path: outside, name: 'private' });
    assert.equal(adm.statusCode, 201, adm.body);
    assert.ok(!(await names('alice')).includes('private'));
  });

  it('discovers under the configured roots without following the symlink loop, and registers what is new', async () => {
    const d = await req('GET', '/api/registry/discover?depth=4', 'alice');
    assert.equal(d.statusCode, 200, d.body);
    const found = d.json<{ repos: { path: string; project_name: string | null }[]; skipped_symlinks: string[] }>();
    assert.deepEqual(found.repos.map((x) => [x.path.slice(roots.length), x.project_name]), [
      ['/alpha', 'alpha'],
      ['/beta', null],
      ['/gamma', null],
      ['/team/shared-one', 'shared-one'],
    ]);
    assert.deepEqual(found.skipped_symlinks, [join(roots, 'loop')]);
    assert.equal((await req('GET', `/api/registry/discover?root=${encodeURIComponent(join(base, 'elsewhere'))}`, 'alice')).statusCode, 403);
    assert.equal((await req('GET', `/api/registry/discover?root=${encodeURIComponent(join(base, 'elsewhere'))}`, 'admin')).json<{ repos: unknown[] }>().repos.length, 1);
    assert.equal((await req('GET', '/api/registry/discover?depth=99', 'alice')).statusCode, 400);
    assert.equal((await req('GET', '/api/registry/discover?root=relative', 'alice')).statusCode, 400);
    assert.equal((await req('GET', '/api/registry/discover', 'viewer')).statusCode, 403);

    const reg = await req('POST', '/api/registry/discover', 'alice', { register: true });
    assert.equal(reg.statusCode, 200, reg.body);
    const after = reg.json<{ repos: { path: string; project_name: string | null; error: string | null }[] }>().repos;
    assert.equal(after.find((x) => x.path.endsWith('/gamma'))?.project_name, 'gamma');
    assert.match(after.find((x) => x.path.endsWith('/beta'))?.error ?? 'registered', /already registered|registered/);
    assert.deepEqual(await names('alice'), ['alpha', 'gamma', 'shared-one']);
  });

  it('health and sync report on visible projects only', async () => {
    const h = await req('GET', '/api/registry/projects/a1/health', 'alice');
    assert.equal(h.statusCode, 200, h.body);
    const health = h.json<{ project: P; status: string; checks: { name: string; status: string }[] }>();
    assert.deepEqual(health.checks.map((c) => c.name), ['repo_readable', 'base_branch', 'working_tree', 'remote', 'last_session', 'sandbox_image']);
    assert.equal(health.checks.find((c) => c.name === 'base_branch')?.status, 'ok');
    const s = await req('POST', '/api/registry/sync', 'alice', {});
    assert.equal(s.statusCode, 200, s.body);
    assert.deepEqual(s.json<{ projects: { project_name: string; branches: number }[] }>().projects.map((p) => [p.project_name, p.branches]), [
      ['alpha', 1],
      ['gamma', 1],
      ['shared-one', 1],
    ]);
    assert.equal((await req('POST', '/api/registry/sync', 'alice', { project: 'beta' })).statusCode, 404);
  });

  it('prunes only what the caller registered: a dry run unless yes, 404 for someone else\'s project', async () => {
    const dry = await req('POST', '/api/registry/prune', 'alice', { project: 'alpha' });
    assert.equal(dry.statusCode, 200, dry.body);
    assert.deepEqual(dry.json(), { dry_run: true, projects: [{ project_id: dry.json<{ projects: { project_id: string }[] }>().projects[0]!.project_id, project_name: 'alpha', branches: [], error: null }] });
    assert.equal((await req('POST', '/api/registry/prune', 'bob', { project: 'alpha' })).statusCode, 404);
    assert.equal((await req('POST', '/api/registry/prune', 'alice', { project: 'shared-one', yes: true })).statusCode, 403);
    assert.equal((await req('POST', '/api/registry/prune', 'viewer', {})).statusCode, 403);
    const all = await req('POST', '/api/registry/prune', 'alice', { yes: true });
    assert.equal(all.statusCode, 200, all.body);
    assert.deepEqual(all.json<{ projects: { project_name: string }[] }>().projects.map((p) => p.project_name), ['alpha', 'gamma']);
  });

  it('lists tasks across visible projects and rejects bad filters with 400/404', async () => {
    const t = await req('GET', '/api/registry/tasks', 'alice');
    assert.equal(t.statusCode, 200, t.body);
    assert.deepEqual(t.json<{ tasks: unknown[] }>().tasks, []);
    assert.equal((await req('GET', '/api/registry/tasks?status=bogus', 'alice')).statusCode, 400);
    assert.equal((await req('GET', '/api/registry/tasks?project=beta', 'alice')).statusCode, 404);
    assert.equal((await req('GET', '/api/registry/tasks?limit=0', 'alice')).statusCode, 400);
  });

  it('answers duplicate names and aliases with 409 and bad paths with 400, never 500', async () => {
    const dupName = await req('POST', '/api/registry/projects', 'admin', { path: join(roots, 'beta'), name: 'alpha' });
    assert.equal(dupName.statusCode, 409, dupName.body);
    assert.match(dupName.json<{ error: { message: string } }>().error.message, /already registered|already exists/);
    assert.equal((await req('POST', '/api/registry/projects', 'alice', { path: join(roots, 'alpha'), alias: 'A B' })).statusCode, 400);
    assert.equal((await req('POST', '/api/registry/projects', 'alice', { path: join(roots, 'nope') })).statusCode, 400);
    assert.equal((await req('POST', '/api/registry/projects', 'alice', { path: 'relative' })).statusCode, 400);
    assert.equal((await req('GET', '/api/registry/projects/ghost/health', 'alice')).statusCode, 404);
    assert.equal((await req('DELETE', '/api/registry/projects/gamma', 'alice')).statusCode, 200);
    assert.deepEqual(await names('alice'), ['alpha', 'shared-one']);
  });
});
