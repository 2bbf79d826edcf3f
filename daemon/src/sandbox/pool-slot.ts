// What runs in a warm pool slot before and at its claim: the claim files and the
// slot's main process, and the mount helpers the pool uses on the host (see
// pool.ts for the pool itself).
import { execFile } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
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
export function slotCommand(agentDir: string, command: readonly string[], preload?: string, pollMs = 10): string[] {
  if (command[0] === 'node' && command.length >= 2 && !command[1]!.startsWith('-')) {
    const f = JSON.stringify(`${agentDir}/${CLAIM_JSON}`);
    const take = 'Object.assign(process.env, JSON.parse(readFileSync(f, "utf8")))';
    const every = Math.max(1, Math.floor(pollMs));
    // The Loki runner's waiter also looks at once on SIGUSR2 (lokid's wakeSlot, right after it wrote
    // the claim). The handler stays after the claim, a no-op: a signal racing the poll that took the
    // claim must not meet the default action (exit). Another node entry keeps SIGUSR2's default and
    // is only polled for (wakeSlot signals no process that does not catch it).
    const waiter =
      preload !== undefined && command[1] === preload
        ? `import { existsSync, readFileSync } from "node:fs"; const f = ${f}; ` +
          `globalThis[Symbol.for(${JSON.stringify(CLAIM_HOLD_KEY)})] = new Promise((resolve) => { let t; let done = false; ` +
          `const poll = () => { if (done) return; clearTimeout(t); if (!existsSync(f)) return void (t = setTimeout(poll, ${every})); ` +
          `done = true; ${take}; resolve(); }; process.on("SIGUSR2", poll); poll(); });`
        : `import { existsSync, readFileSync } from "node:fs"; const f = ${f}; ` +
          `while (!existsSync(f)) await new Promise((r) => setTimeout(r, ${every})); ${take};`;
    return ['node', '--import', `data:text/javascript,${encodeURIComponent(waiter)}`, ...command.slice(1)];
  }
  return ['/bin/sh', '-c', `while [ ! -e ${agentDir}/${CLAIM_FILE} ]; do sleep 0.02; done; . ${agentDir}/${CLAIM_FILE}; exec "$@"`, 'loki-pool-slot', ...command];
}

const SIGUSR2_BIT = 1n << BigInt(constants.signals.SIGUSR2 - 1);

/**
 * Wakes a claimed slot's waiting node process now rather than at its next poll:
 * SIGUSR2 to the container's main process or, under Docker's init, its child —
 * only to a `node` process of that container (its cgroup names the container)
 * that catches SIGUSR2 already (SigCgt), so never a process the signal's default
 * action would end: a waiter still starting, a shell, the init. Read right
 * before the signal, from the pid Docker reported for the running slot. Best
 * effort: false when it did not signal, and the waiter's poll still finds the claim.
 */
export function wakeSlot(initPid: number | undefined, containerId: string): boolean {
  if (!initPid || !Number.isSafeInteger(initPid) || initPid < 2 || !/^[0-9a-f]{12,64}$/.test(containerId)) return false;
  try {
    const children = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    for (const pid of children.length ? children : [initPid]) {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'node') continue;
      if (!readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(containerId)) continue;
      const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (!caught || !(BigInt(`0x${caught}`) & SIGUSR2_BIT)) continue;
      process.kill(pid, 'SIGUSR2');
      return true;
    }
  } catch {
    // Gone, or a /proc without these files: the poll picks the claim up.
  }
  return false;
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
