// A real terminal for the dashboard: a private tmux server (its own -L socket
// name, so nobody else's sessions are touched), send-keys to type, capture-pane
// to read the screen, and the captures saved for a person to read.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ROOT } from '../../helpers/entry.js';

// ROOT is dist/ when running the built tests; artifacts go to the repo's git-ignored .loki-test/.
export const ARTIFACTS = join(basename(ROOT) === 'dist' ? dirname(ROOT) : ROOT, '.loki-test', 'artifacts', 'dashboard');

export class Tmux {
  private readonly server = `loki-dash-${process.pid}-${Date.now().toString(36)}`;
  readonly target = 'dash:0.0';

  constructor(cols: number, rows: number, env: Record<string, string>) {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // A plain shell in the pane: after `q` the test reads what the shell's screen looks like.
    this.tmux('new-session', '-d', '-s', 'dash', '-x', String(cols), '-y', String(rows), ...envArgs, `env -i PATH="$PATH" HOME="$HOME" ${Object.keys(env).map((k) => `${k}="$${k}"`).join(' ')} TERM=xterm-256color PS1="$ " bash --norc --noprofile`);
  }

  tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.server, '-f', '/dev/null', ...args], { encoding: 'utf8' });
  }

  /** Types `text` literally, then presses the named keys (Enter, Escape, Up …). */
  send(text: string, ...keys: string[]): void {
    if (text) this.tmux('send-keys', '-t', this.target, '-l', text);
    for (const k of keys) this.tmux('send-keys', '-t', this.target, k);
  }

  capture(): string {
    return this.tmux('capture-pane', '-p', '-t', this.target);
  }

  async until(pred: (screen: string) => boolean, what: string, ms = 30_000, everyMs = 20): Promise<string> {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      last = this.capture();
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new Error(`timed out waiting for ${what}; pane:\n${last}`);
  }

  resize(cols: number, rows: number): void {
    this.tmux('resize-window', '-t', 'dash', '-x', String(cols), '-y', String(rows));
  }

  save(name: string, screen: string): void {
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, `${name}.txt`), screen);
  }

  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }
}
