import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { removeHome, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { entryArgv, shortTempDir } from '../helpers/entry.js';

const run = promisify(execFile);

async function waitFor(pred: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('lokid reload (SIGHUP)', function () {
  this.timeout(60_000);
  let home: string;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    home = shortTempDir('lk-rl');
    writeFileSync(join(home, 'config.yaml'), 'policy:\n  rules:\n    - { effect: deny, pattern: "curl", reason: "no downloads" }\n');
    daemon = await spawnDaemon(home);
  });
  after(async () => {
    await daemon?.stop();
    removeHome(home);
  });

  const check = async (command: string) => {
    const { stdout } = await run(process.execPath, [...entryArgv('cli'), '--home', home, '--json', 'policy', 'check', command]);
    return JSON.parse(stdout) as { decision: string; rule: string };
  };

  it('does not report a changed policy as reloaded when the running policy stays the old one', async () => {
    writeFileSync(join(home, 'config.yaml'), 'policy:\n  rules:\n    - { effect: deny, pattern: "curl", reason: "no downloads" }\n    - { effect: deny, pattern: "wget", reason: "no downloads" }\n');
    const before = daemon!.output().length;
    daemon!.child.kill('SIGHUP');
    await waitFor(() => /config reload/.test(daemon!.output().slice(before)), 'the reload log line');
    const log = daemon!.output().slice(before);
    // The policy is not swapped live: the log must say so and name it, not just "config reloaded".
    assert.match(log, /restart lokid to apply the changes to policy/);
    assert.equal((await check('wget http://x')).decision, 'allow', 'the running policy is still the old one, as the log says');
    const audit = readFileSync(join(home, 'dashboard', 'audit', readdirAudit(home)), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; details?: { needs_restart?: string[] } });
    const change = audit.filter((e) => e.action === 'config.change').pop();
    assert.deepEqual(change?.details?.needs_restart, ['policy']);
  });

  it('refuses a reload whose policy would not load, as start and --check-config refuse it', async () => {
    writeFileSync(join(home, 'config.yaml'), 'policy:\n  rules:\n    - { effect: deny, pattern: "curl", match: ["wget x"] }\n');
    const before = daemon!.output().length;
    daemon!.child.kill('SIGHUP');
    await waitFor(() => /config reload/.test(daemon!.output().slice(before)), 'the reload log line');
    assert.match(daemon!.output().slice(before), /config reload refused/);
    assert.match(daemon!.output().slice(before), /should match/);
  });
});

function readdirAudit(home: string): string {
  const files = readdirSync(join(home, 'dashboard', 'audit')).filter((f) => f.endsWith('.jsonl')).sort();
  return files[files.length - 1]!;
}
