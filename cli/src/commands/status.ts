// `loki status`: the daemon, Docker, sandboxes, sessions and pending approvals,
// and — in remote mode — the gateway (URL, TLS, readiness).
import type { Command } from 'commander';
import { LokiError, shortenForDisplay } from '../../../common/src/index.js';
import type { Approval, Session } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { formatDuration, formatTime, printJson, printLine } from '../output.js';
import { jsonMode } from './options.js';

/** undefined when the daemon does not serve that service (older lokid): the section is left out. */
async function optional<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof LokiError && err.kind === 'unavailable' && err.code !== 'daemon_unavailable') return undefined;
    if (err instanceof LokiError && err.kind === 'permission_denied') return undefined;
    throw err;
  }
}

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show the daemon, Docker, sandbox and session status, pending approvals, and the gateway in remote mode')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { s, sessions, approvals } = await withClient(ctx, async (c) => {
        const s = await c.status();
        const sessions: Session[] | undefined = await optional(c.sessions.list());
        const approvals: Approval[] | undefined = await optional(c.approvals.list({ status: 'pending' }));
        return { s, sessions, approvals };
      });
      const d = s.daemon;
      if (jsonMode(ctx, o)) {
        return printJson({
          ...d,
          gateway: s.gateway,
          caller: s.caller,
          sessions: sessions ?? null,
          approvals_pending: approvals ?? null,
        });
      }
      if (s.gateway) {
        const g = s.gateway;
        printLine(`Gateway:    ${g.url} (${g.tls ? 'TLS' : 'NO TLS'}), loki-gateway ${g.version}, ${g.ready ? 'ready' : 'NOT ready'}, auth ${g.auth}`);
        printLine(`Caller:     ${s.caller.subject} (scopes ${s.caller.scopes.join(',') || 'none'})`);
      }
      printLine(`lokid ${d.version}, up ${formatDuration(d.uptime_seconds)} (since ${formatTime(d.started_at)})`);
      const drv = d.sandbox_driver;
      printLine(`Driver:     ${drv.name} ${drv.reachable ? `reachable (${drv.version})${drv.can_pause ? '' : ', cannot pause sandboxes'}` : 'NOT reachable'}`);
      printLine(`Base image: ${d.base_image.name} ${d.base_image.present ? 'present' : "missing — run `loki sandbox build` on the daemon's host"}`);
      const rt = d.sandbox_runtime;
      if (rt) printLine(`Runtime:    ${rt.name}${rt.name === 'runsc' ? ' (gVisor)' : ''}${rt.registered ? '' : " — NOT registered with Docker; run scripts/register-runsc.sh on the daemon's host"}`);
      printLine(`Sandboxes:  ${d.sandboxes.running} running, ${d.sandboxes.paused} paused, ${d.sandboxes.exited} stopped`);
      const pool = d.sandbox_pool;
      if (pool?.size) printLine(`Warm pool:  ${pool.disabled ? `off — ${pool.disabled}` : `${pool.ready}/${pool.size} ready`}`);
      if (sessions) {
        printLine(`Sessions:   ${sessions.length ? `${sessions.length} active` : 'none active'}`);
        for (const x of sessions) printLine(`  ${x.id}  ${x.state.padEnd(16)} ${x.provider.padEnd(7)} iteration ${x.iteration}/${x.max_iterations}  $${x.cost_usd.toFixed(2)}  ${x.branch}`);
      }
      if (approvals) {
        printLine(`Approvals:  ${approvals.length ? `${approvals.length} pending` : 'none pending'}`);
        for (const a of approvals) printLine(`  ${a.id}  ${a.session_id}  ${shortenForDisplay(a.action, 60)}  (loki approvals show ${a.id})`);
      }
    });
}
