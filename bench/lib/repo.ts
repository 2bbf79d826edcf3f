// A throwaway git project for the benches that start sessions: one commit on
// `main` in a fresh temp directory (removed by the caller with the run's files).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function benchRepo(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${tag}-repo-`));
  const git = (...a: string[]) => execFileSync('git', a, { cwd: dir, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README.md'), `${tag}\n`);
  git('add', '.');
  git('-c', `user.name=${tag}`, '-c', `user.email=${tag}@example.invalid`, 'commit', '-q', '-m', 'init');
  return dir;
}
