import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import { PolicyServiceClient, type Approval } from '../../../proto/gen/loki/v1/policy.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { call, connectDaemon } from '../client.js';
import { formatTime, printJson, printLine } from '../output.js';
import type { CliContext } from '../program.js';
import { sessionsOverview } from './sessions.js';

/** Pending approvals; undefined when the daemon serves no policy service. */
async function pendingApprovals(conn: ReturnType<typeof connectDaemon>): Promise<Approval[] | undefined> {
  const c = conn.get(PolicyServiceClient);
  try {
    return (await call(conn, c.listApprovals.bind(c), { sessionId: '', status: 'pending' })).approvals;
  } catch (err) {
    if (err instanceof LokiError && err.kind === 'unavailable' && err.code !== 'daemon_unavailable') return undefined;
    throw err;
  }
}

export function registerStatusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show the daemon, Docker, sandbox and session status, and pending approvals')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(SystemServiceClient);
        const s = await call(conn, c.getStatus.bind(c), {});
        const sessions = await sessionsOverview(conn);
        const approvals = await pendingApprovals(conn);
        const dto = {
          version: s.version,
          started_at: formatTime(s.startedAtMs),
          uptime_seconds: Math.round(s.uptimeSeconds),
          docker: { reachable: s.dockerReachable, version: s.dockerVersion },
          base_image: { name: s.baseImage, present: s.baseImagePresent },
          sandbox_runtime: { name: s.sandboxRuntime, registered: s.sandboxRuntimeRegistered },
          sandboxes: s.sandboxes,
          caller: { role: s.callerRole, subject: s.callerSubject },
          sessions: sessions?.map((x) => ({ id: x.id, state: x.state, provider: x.provider, branch: x.branch, iteration: x.iteration, max_iterations: x.maxIterations, cost_usd: x.costUsd, uptime_seconds: Math.round(x.uptimeSeconds) })) ?? null,
          approvals_pending: approvals?.map((a) => ({ id: a.id, session_id: a.sessionId, action: a.normalized, reason: a.reason, expires_at: formatTime(a.expiresAtMs) })) ?? null,
        };
        if (o.json) return printJson(dto);
        printLine(`lokid ${s.version}, up ${dto.uptime_seconds}s (since ${dto.started_at})`);
        printLine(`Docker:     ${s.dockerReachable ? `reachable (${s.dockerVersion})` : 'NOT reachable'}`);
        printLine(`Base image: ${s.baseImage} ${s.baseImagePresent ? 'present' : 'missing — run `loki sandbox build`'}`);
        printLine(`Runtime:    ${s.sandboxRuntime}${s.sandboxRuntime === 'runsc' ? ' (gVisor)' : ''}${s.sandboxRuntimeRegistered ? '' : ' — NOT registered with Docker; run scripts/register-runsc.sh'}`);
        const c2 = s.sandboxes!;
        printLine(`Sandboxes:  ${c2.running} running, ${c2.paused} paused, ${c2.exited} stopped`);
        if (sessions) {
          printLine(`Sessions:   ${sessions.length ? `${sessions.length} active` : 'none active'}`);
          for (const x of sessions) printLine(`  ${x.id}  ${x.state.padEnd(16)} ${x.provider.padEnd(7)} iteration ${x.iteration}/${x.maxIterations}  $${x.costUsd.toFixed(2)}  ${x.branch}`);
        }
        if (approvals) {
          printLine(`Approvals:  ${approvals.length ? `${approvals.length} pending` : 'none pending'}`);
          for (const a of approvals) printLine(`  ${a.id}  ${a.sessionId}  ${a.normalized.slice(0, 80)}  (loki approvals approve ${a.id})`);
        }
      } finally {
        conn.close();
      }
    });
}
