import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, statSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { AgentTrail } from '../../../daemon/src/git/trail.js';
import { tempDir } from './helpers.js';

describe('AgentTrail', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('loki-trail-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends ordered entries in the Loki Mode format to a 0600 file per session', () => {
    const trail = new AgentTrail({ dir: join(dir, 'trails'), clock: () => Date.parse('2026-02-12T18:30:00Z') });
    trail.append('s1', { action: 'git_commit', agent: 'development', details: { message: 'Add authentication module', files_changed: 3 } });
    trail.append('s1', { action: 'command_run', agent: 'development', details: { argv: ['npm', 'test'] } });
    const file = join(dir, 'trails', 's1.jsonl');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { timestamp: '2026-02-12T18:30:00.000Z', seq: 1, action: 'git_commit', agent: 'development', details: { message: 'Add authentication module', files_changed: 3 } });
    assert.equal(lines[1].seq, 2);
  });

  it('continues the sequence after a restart and skips a torn last line', () => {
    new AgentTrail({ dir }).append('s1', { action: 'a', agent: 'x' });
    appendFileSync(join(dir, 's1.jsonl'), '{"timestamp":"2026');
    const again = new AgentTrail({ dir });
    assert.equal(again.read('s1').length, 1);
    const e = again.append('s1', { action: 'b', agent: 'x' });
    assert.equal(e.seq, 2);
  });

  it('counts per action and per session', () => {
    const t = new AgentTrail({ dir });
    t.append('s1', { action: 'git_commit', agent: 'x' });
    t.append('s1', { action: 'git_commit', agent: 'x' });
    t.append('s2', { action: 'command_run', agent: 'x' });
    assert.deepEqual(t.count(), { total: 3, byAction: { git_commit: 2, command_run: 1 }, bySession: { s1: 2, s2: 1 } });
    assert.equal(t.count('s2').total, 1);
  });

  it('rejects session ids that are paths and actions that are not identifiers', () => {
    const t = new AgentTrail({ dir });
    assert.throws(() => t.append('../x', { action: 'a', agent: 'x' }), (e: unknown) => e instanceof LokiError && e.code === 'invalid_argument');
    assert.throws(() => t.append('s', { action: 'Bad Action', agent: 'x' }), /invalid trail action/);
  });

  it('refuses to export through a symlinked .loki/logs planted by a merged branch', async () => {
    const t = new AgentTrail({ dir: join(dir, 'trails') });
    t.append('s1', { action: 'a', agent: 'x' });
    const project = join(dir, 'project');
    mkdirSync(join(project, '.loki'), { recursive: true });
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(project, '.loki', 'logs'));
    await assert.rejects(t.exportTo('s1', project), (e: unknown) => e instanceof LokiError && e.code === 'unsafe_workspace');
  });
});
