// The runner's main loop: Hello → brief → provider → `finished` or `error`.
import type { ServiceError } from '@grpc/grpc-js';
import { Actor } from './actor.js';
import { AgentLink, Reporter } from './channel.js';
import { claudeProvider } from './providers/claude.js';
import { openaiProvider } from './providers/openai.js';
import { scriptProvider } from './providers/script.js';
import { ProviderError, type Provider } from './providers/types.js';
import { Workspace } from './workspace.js';
import { providerCodec } from '../../common/src/wire-vocab.js';
import { counted } from '../../common/src/display.js';

const PROVIDERS: Record<string, Provider> = { script: scriptProvider, openai: openaiProvider, claude: claudeProvider };

export interface RunOptions {
  socketPath: string;
  runnerPath: string;
  log: (msg: string) => void;
}

export const LEFTOVER_COMMIT_MESSAGE = 'loki: work left uncommitted when the agent finished';

/**
 * Work the agent changed but never committed would not reach the session branch
 * (only commits come back): commit it through the policy gate like any other
 * commit, or say plainly that it stays behind in the workspace.
 */
async function commitLeftovers(actor: Actor, ws: Workspace, reporter: Reporter): Promise<void> {
  const paths = await ws.uncommitted();
  if (!paths?.length) return;
  const one = paths.length === 1;
  const named = `${counted(paths.length, 'changed file')} (${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ', …' : ''})`;
  reporter.emit({ type: 'message', message: `the agent left ${named} uncommitted; committing ${one ? 'it' : 'them'} to the session branch` });
  const r = await actor.commit(LEFTOVER_COMMIT_MESSAGE, 'leftover_commit');
  if (!r.ok) reporter.emit({ type: 'message', message: `${named} ${one ? 'stays' : 'stay'} uncommitted in the workspace and ${one ? 'is' : 'are'} not on the session branch: ${r.denied ? 'the commit was denied' : 'the commit failed'}` });
}

function num(v: string | undefined, dflt: number, min: number, max: number): number {
  const n = Number(v);
  return Number.isFinite(n) && n >= min && n <= max ? n : dflt;
}

/** Returns the process exit code: 0 finished, 1 failed, 2 could not reach the daemon. */
export async function runAgent(o: RunOptions): Promise<number> {
  const link = new AgentLink(o.socketPath);
  let brief;
  try {
    brief = await link.hello();
  } catch (err) {
    o.log(`cannot reach the Loki daemon at ${o.socketPath}: ${(err as ServiceError).details ?? (err as Error).message}`);
    link.close();
    return 2;
  }
  const opts = brief.options;
  const reporter = new Reporter(link, o.log);
  reporter.startHeartbeat(num(opts.heartbeat_ms, 5000, 100, 60_000));
  const ws = new Workspace({
    root: brief.workspace || '/workspace',
    commandTimeoutMs: num(opts.command_timeout_ms, 120_000, 100, 3_600_000),
    outputCapBytes: num(opts.output_cap_bytes, 64 * 1024, 1024, 4 * 1024 * 1024),
    // Commands get a small fixed environment: never the API key or the runner's own env.
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME || '/home/loki', LANG: 'C.UTF-8', TMPDIR: '/tmp' },
  });
  const actor = new Actor(link, reporter, ws);
  // SIGTERM (docker stop) is a stop request: finish the current step, then report.
  process.once('SIGTERM', () => link.requestStop());
  let code = 0;
  let result: Awaited<ReturnType<Provider>> | undefined;
  let failure: unknown;
  try {
    const name = providerCodec.fromWire(brief.provider) ?? brief.legacyProvider;
    const provider = PROVIDERS[name];
    if (!provider) throw new ProviderError(`unknown provider "${name ? name.slice(0, 32) : String(brief.provider)}" (script, openai or claude)`);
    result = await provider({ brief, actor, reporter, link, log: o.log, runnerPath: o.runnerPath });
  } catch (err) {
    failure = err;
  }
  // Before `finished`: what the agent changed, even before a failure, is still its work.
  await commitLeftovers(actor, ws, reporter).catch((e: unknown) => o.log(`could not commit the work left behind: ${(e as Error).message}`));
  if (result) {
    reporter.emit({ type: 'finished', message: result.summary, dataJson: JSON.stringify(result.data ?? {}) });
  } else {
    code = 1;
    const msg = failure instanceof ProviderError ? failure.message : `runner failed: ${(failure as Error).message}`;
    o.log(msg);
    reporter.emit({ type: 'error', message: msg });
  }
  reporter.stopHeartbeat();
  // Bounded: a daemon that never comes back must not keep the sandbox alive.
  await Promise.race([reporter.flush(), new Promise((r) => setTimeout(r, 60_000).unref())]);
  link.close();
  return code;
}
