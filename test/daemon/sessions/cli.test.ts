// `loki start|status|pause|resume|stop|sessions|metrics` against a real daemon
// with the session feature, real sandboxes and a real project repository.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';
import { lokiOn } from '../../helpers/capture.js';

function loki(sd: SessionDaemon, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return lokiOn(sd.d.paths.adminSocket, ...args);
}

describe('loki session commands', function () {
  this.timeout(120_000);
  let sd: SessionDaemon;
  let repo: string;
  let plan: string;

  before(async function () {
    repo = makeRepo();
    plan = join(repo, 'plan.json');
    writeFileSync(plan, JSON.stringify([{ run: 'true' }]));
    sd = await startSessionDaemon();
    await sd.feature.projects.register(repo, { name: 'demo', registeredBy: 'test' });
  });

  after(async function () {
    await sd.cleanup();
    removeDir(repo);
  });

  it('starts, shows, pauses, resumes, logs and stops a session, and prints metrics', async function () {
    const started = await loki(sd, 'start', join(repo, 'docs', 'prd.md'), '--project', 'demo', '--plan', plan, '--sandbox', '--json');
    assert.equal(started.code, 0, started.err);
    assert.match(started.err, /sessions always run in a hardened sandbox/);
    const s = JSON.parse(started.out) as { id: string; state: string; branch: string };
    assert.equal(s.state, 'running');

    const status = JSON.parse((await loki(sd, 'status', '--json')).out) as { sessions: { id: string; state: string }[]; approvals_pending: unknown[] };
    assert.deepEqual(status.sessions.map((x) => [x.id, x.state]), [[s.id, 'running']]);
    assert.deepEqual(status.approvals_pending, []);
    assert.match((await loki(sd, 'status')).out, new RegExp(`Sessions: +1 active\\n +${s.id} +running`));

    // Without an id, the single active session is meant.
    assert.match((await loki(sd, 'pause')).out, new RegExp(`${s.id} paused`));
    assert.match((await loki(sd, 'sessions', 'list')).out, new RegExp(`${s.id} +paused +script`));
    assert.match((await loki(sd, 'resume', s.id)).out, new RegExp(`${s.id} running`));

    const shown = JSON.parse((await loki(sd, 'sessions', 'show', s.id, '--json')).out) as { branch: string; prd: string };
    assert.equal(shown.branch, s.branch);
    assert.match(shown.prd, /docs\/prd\.md$/);

    const metrics = (await loki(sd, 'metrics')).out;
    assert.match(metrics, new RegExp(`loki_session_status\\{session="${s.id}"\\} 1`));
    assert.match(metrics, /loki_sessions_active 1/);
    assert.match(metrics, /loki_policy_decisions_total\{decision="deny"\} 0/);

    assert.match((await loki(sd, 'stop', s.id)).out, new RegExp(`${s.id} stopped`));
    const logs = (await loki(sd, 'sessions', 'logs', s.id)).out.trim().split('\n');
    assert.match(logs[0]!, /#1 state +session created/);
    assert.ok(logs.some((l) => /state +paused by local:/.test(l)));
    assert.match(logs.at(-1)!, /state .*stopped by local:/);
    const logsJson = (await loki(sd, 'sessions', 'logs', s.id, '--json')).out.trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
    assert.deepEqual(logsJson.map((e) => e.seq), logsJson.map((_, i) => i + 1));
  });

  it('reports bad input with the invalid_argument exit code and a specific message', async function () {
    const missing = await loki(sd, 'start', join(repo, 'nope.md'), '--project', 'demo', '--plan', plan);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /PRD file .*nope\.md does not exist/);
    const provider = await loki(sd, 'start', '--prompt', 'x', '--provider', 'gpt5', '--project', 'demo');
    assert.equal(provider.code, 2);
    assert.match(provider.err, /unknown provider "gpt5"/);
    const profile = await loki(sd, 'start', '--prompt', 'x', '--profile', 'cowboy', '--project', 'demo', '--plan', plan);
    assert.equal(profile.code, 2);
    assert.match(profile.err, /unknown policy profile "cowboy"/);
    const unknown = await loki(sd, 'sessions', 'show', 'ses-000000000000');
    assert.equal(unknown.code, 5);
  });
});
