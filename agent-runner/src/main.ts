// agent-runner entry: the sandbox's main process (`node /opt/loki/agent-runner.cjs`),
// or Claude Code's PreToolUse hook (`… hook pretooluse`).
import { DEFAULT_AGENT_SOCKET } from './channel.js';
import { runHook } from './hook.js';
import { runAgent } from './run.js';
import { warmUp } from './warm.js';

function log(msg: string): void {
  process.stderr.write(`[loki-agent-runner] ${msg}\n`);
}

async function main(argv: string[]): Promise<number> {
  const socketPath = process.env.LOKI_AGENT_SOCKET || DEFAULT_AGENT_SOCKET;
  if (argv[0] === 'hook') {
    if (argv[1] !== 'pretooluse') {
      log(`unknown hook "${argv[1] ?? ''}" (expected pretooluse)`);
      return 2;
    }
    return runHook(socketPath);
  }
  if (argv.length) {
    log('usage: agent-runner [hook pretooluse]');
    return 2;
  }
  return runAgent({ socketPath, runnerPath: process.argv[1] ?? '/opt/loki/agent-runner.cjs', log });
}

// In a warm pool slot this bundle is loaded before the session exists: a waiter
// (daemon/src/sandbox/pool-slot.ts, slotCommand) sets this promise, which settles once
// the claim's env is in process.env. No module reads session env when it loads.
// While it waits, the runner warms its gRPC client up (warm.ts).
const claim = (globalThis as Record<symbol, Promise<void> | undefined>)[Symbol.for('loki.pool.claim')];
const ready = claim ? Promise.all([claim, warmUp()]) : Promise.resolve();

ready.then(() => main(process.argv.slice(2))).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`fatal: ${(err as Error).message}`);
    process.exit(1);
  },
);
