// Probing as another local user: a small node script run under setpriv as that uid,
// printing one JSON object, and the parent directories opened so only the modes
// under test stand in its way.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Runs `script` (node -e) as `uid` (its own group, no supplementary groups) with `args`; returns the JSON it prints. */
export function probeAsUser(uid: number, script: string, args: readonly string[]): Record<string, string> {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', script, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

/** Every directory from `dir` up to / traversable by others (adding r-x only), so only the modes under test stand in the way. */
export function openParents(dir: string): void {
  for (let d = dir; d !== dirname(d); d = dirname(d)) chmodSync(d, (statSync(d).mode & 0o7777) | 0o055);
}

/** `script` (node -e) as `uid`, like probeAsUser, but running beside the test (an attacker's loop); stdout/stderr are collected. */
export function spawnAsUser(uid: number, script: string, args: readonly string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { child, output: () => out, exited };
}
