// What runs in a warm pool slot before and at its claim: the claim files and the
// slot's main process, and the mount helpers the pool uses on the host (see
// pool.ts for the pool itself).
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file whose appearance in the agent directory releases a slot's runner. */
export const CLAIM_FILE = 'claim.env';
/** The same env as JSON, for a node runner started ahead. */
export const CLAIM_JSON = 'claim.json';
/**
 * The global a preloaded runner waits on: a promise that settles once the claim's
 * env is in process.env. The agent-runner's entry (agent-runner/src/main.ts) reads
 * the same `Symbol.for` key; they cannot share a module (the runner is a bundle).
 */
export const CLAIM_HOLD_KEY = 'loki.pool.claim';

/**
 * The slot's main process: waits for the claim (the agent directory is the
 * root-only empty slot directory until then, so nothing is readable before),
 * takes the session's env from it, then runs the runner. A node runner starts
 * ahead under an `--import` waiter. The Loki runner bundle (`preload`) is loaded
 * before the claim — every module evaluated, nothing session-specific read (its
 * entry waits on the CLAIM_HOLD_KEY promise before reading env or argv-derived
 * session state); any other node entry is held back whole until the claim, and
 * a non-node command waits in sh.
 */
export function slotCommand(agentDir: string, command: readonly string[], preload?: string): string[] {
  if (command[0] === 'node' && command.length >= 2 && !command[1]!.startsWith('-')) {
    const f = JSON.stringify(`${agentDir}/${CLAIM_JSON}`);
    const take = 'Object.assign(process.env, JSON.parse(readFileSync(f, "utf8")))';
    const waiter =
      preload !== undefined && command[1] === preload
        ? `import { existsSync, readFileSync } from "node:fs"; const f = ${f}; ` +
          `globalThis[Symbol.for(${JSON.stringify(CLAIM_HOLD_KEY)})] = new Promise((resolve) => { ` +
          `const poll = () => { if (!existsSync(f)) return void setTimeout(poll, 10); ${take}; resolve(); }; poll(); });`
        : `import { existsSync, readFileSync } from "node:fs"; const f = ${f}; ` +
          `while (!existsSync(f)) await new Promise((r) => setTimeout(r, 10)); ${take};`;
    return ['node', '--import', `data:text/javascript,${encodeURIComponent(waiter)}`, ...command.slice(1)];
  }
  return ['/bin/sh', '-c', `while [ ! -e ${agentDir}/${CLAIM_FILE} ]; do sleep 0.02; done; . ${agentDir}/${CLAIM_FILE}; exec "$@"`, 'loki-pool-slot', ...command];
}

export function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve()));
  });
}

/** Mounts stacked on `dir` (self-bind + claim bind), from /proc/self/mountinfo (octal escapes undone). */
export function mountsAt(dir: string): number {
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => unescape(l.split(' ')[4] ?? '') === dir).length;
  } catch {
    return 0;
  }
}

const shQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * Releases a claimed slot's runner: the session's env, as JSON and as sh, each
 * written whole then renamed (the waiting runner never reads half a file). No
 * secret goes in: only what the cold path puts in the container's env.
 */
export function writeClaimFiles(channelDir: string, env: Record<string, string>): void {
  const put = (name: string, text: string) => {
    const tmp = join(channelDir, `.${name}.tmp`);
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, join(channelDir, name));
  };
  put(CLAIM_JSON, JSON.stringify(env));
  put(CLAIM_FILE, Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}\n`).join(''));
}
