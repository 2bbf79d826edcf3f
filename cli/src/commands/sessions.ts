// Loki Mode's session commands: `loki start|stop|pause|resume`, `loki sessions
// list|show|logs|rm|prune` and `loki metrics`, over the admin socket's SessionService.
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import { SessionServiceClient, StartSessionRequest, type Session, type SessionEvent, type SessionMetricsResponse } from '../../../proto/gen/loki/v1/sessions.js';
import { call, connectDaemon, fromServiceError, type DaemonConnection } from '../client.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';
import { parsePositiveIntOption } from './options.js';

const TERMINAL = ['completed', 'failed', 'stopped'];

export function sessionJson(s: Session): Record<string, unknown> {
  return {
    id: s.id,
    state: s.state,
    owner: s.owner,
    provider: s.provider,
    profile: s.profile,
    autonomy: s.autonomy || null,
    project_id: s.projectId,
    prd: s.promptSource,
    model: s.model || null,
    upstream: s.upstream || null,
    branch: s.branch,
    sandbox_id: s.sandboxId || null,
    created_at: formatTime(s.createdAtMs),
    started_at: s.startedAtMs ? formatTime(s.startedAtMs) : null,
    ended_at: s.endedAtMs ? formatTime(s.endedAtMs) : null,
    uptime_seconds: Math.round(s.uptimeSeconds),
    iteration: s.iteration,
    max_iterations: s.maxIterations,
    tasks: { pending: s.tasks?.pending ?? 0, in_progress: s.tasks?.inProgress ?? 0, completed: s.tasks?.completed ?? 0, failed: s.tasks?.failed ?? 0 },
    agents: { active: s.agentsActive, total: s.agentsTotal },
    cost_usd: s.costUsd,
    tokens: { input: s.inputTokens, output: s.outputTokens },
    events_total: s.eventsTotal,
    decisions: { allow: s.decisionsAllow, deny: s.decisionsDeny, ask: s.decisionsAsk },
    stop_requested: s.stopRequested,
    reason: s.reason || null,
    workspace_removed: s.workspaceRemoved,
  };
}

export function eventJson(e: SessionEvent): Record<string, unknown> {
  let data: unknown = {};
  try {
    data = JSON.parse(e.dataJson || '{}');
  } catch {
    data = {};
  }
  return { session_id: e.sessionId, seq: e.seq, time: formatTime(e.timeMs), type: e.type, message: e.message, data };
}

async function withSessions<T>(ctx: CliContext, fn: (conn: DaemonConnection, c: SessionServiceClient) => Promise<T>): Promise<T> {
  const conn = connectDaemon(ctx.globals());
  try {
    return await fn(conn, conn.get(SessionServiceClient));
  } finally {
    conn.close();
  }
}

/** `loki stop` without an id acts on the one active session, like Loki Mode's single-session commands. */
async function pick(conn: DaemonConnection, c: SessionServiceClient, id: string | undefined): Promise<string> {
  if (id) return id;
  const active = (await call(conn, c.list.bind(c), { all: false })).sessions;
  if (active.length === 1) return active[0]!.id;
  if (!active.length) throw new LokiError('session_not_found', 'no active session; pass a session id');
  throw new LokiError('invalid_argument', `several sessions are active (${active.map((s) => s.id).join(', ')}); pass one id`);
}

function printSession(s: Session): void {
  printLine(`${s.id}  ${s.state}${s.reason ? ` (${s.reason})` : ''}`);
  printLine(`  provider ${s.provider}, profile ${s.profile}${s.autonomy ? `, autonomy ${s.autonomy}` : ''}, owner ${s.owner}`);
  if (s.branch) printLine(`  branch   ${s.branch}`);
  if (s.workspaceRemoved) printLine('  workspace removed (rm, prune or retention)');
  printLine(`  prd      ${s.promptSource}`);
  printLine(`  iteration ${s.iteration}/${s.maxIterations}, cost $${s.costUsd.toFixed(4)}, events ${s.eventsTotal}, uptime ${Math.round(s.uptimeSeconds)}s`);
  const t = s.tasks;
  if (t) printLine(`  tasks    ${t.pending} pending, ${t.inProgress} in progress, ${t.completed} completed, ${t.failed} failed`);
  printLine(`  policy   ${s.decisionsAllow} allowed, ${s.decisionsDeny} denied, ${s.decisionsAsk} asked`);
}

function printEvent(e: SessionEvent, json: boolean): void {
  if (json) return printLine(JSON.stringify(eventJson(e)));
  printLine(`${formatTime(e.timeMs)} #${e.seq} ${e.type.padEnd(14)} ${e.message}`);
}

function streamEvents(conn: DaemonConnection, c: SessionServiceClient, id: string, follow: boolean, onEvent: (e: SessionEvent) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const stream: ClientReadableStream<SessionEvent> = c.events({ sessionId: id, afterSeq: 0, afterGid: 0, follow }, conn.metadata());
    stream.on('data', onEvent);
    stream.on('error', (err) => reject(fromServiceError(err, conn.socket)));
    stream.on('end', () => resolvePromise());
    process.once('SIGINT', () => {
      stream.cancel();
      resolvePromise();
    });
  });
}

export function registerSessionCommands(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('start an agent session on a PRD (sessions always run in a sandbox)')
    .argument('[prd]', 'PRD file (Markdown); relative to the current directory')
    .option('--prompt <text>', 'an inline prompt instead of a PRD file')
    .option('--provider <name>', 'script | openai | claude (default: the daemon\'s sessions.default_provider)')
    .option('--plan <file>', 'script provider: JSON or YAML list of steps')
    .option('--profile <name>', 'policy profile (default: policy.default_profile)')
    .option('--autonomy <mode>', 'perpetual | checkpoint | supervised')
    .option('--model <name>', 'openai/claude model')
    .option('--base-url <url>', 'openai: chat-completions base URL (e.g. http://127.0.0.1:11434/v1 for Ollama); sent no key unless it is a configured upstream')
    .option('--upstream <name>', 'openai: a model upstream configured in sessions.openai.upstreams (default: the default upstream)')
    .option('--project <name>', 'registered project (default: the git repository of the current directory)')
    .option('--max-iterations <n>', 'iteration cap', parsePositiveIntOption)
    .option('--network', 'ask for network access in the sandbox (the daemon must allow it too)')
    .option('--sandbox', 'accepted for Loki Mode compatibility: sessions always run sandboxed')
    .option('--json', 'print JSON')
    .action(async (prd: string | undefined, o: Record<string, string | boolean | number | undefined>) => {
      if (o.sandbox || /^(1|true|yes)$/i.test(process.env.LOKI_SANDBOX_MODE ?? '')) {
        process.stderr.write('note: sessions always run in a hardened sandbox; --sandbox / LOKI_SANDBOX_MODE change nothing\n');
      }
      let plan = '';
      if (typeof o.plan === 'string') {
        try {
          plan = readFileSync(o.plan, 'utf8');
        } catch {
          throw new LokiError('invalid_argument', `cannot read the plan file ${o.plan}`);
        }
      }
      const req = StartSessionRequest.fromPartial({
        prd: prd ? resolve(prd) : '',
        prompt: typeof o.prompt === 'string' ? o.prompt : '',
        provider: typeof o.provider === 'string' ? o.provider : '',
        plan,
        profile: typeof o.profile === 'string' ? o.profile : '',
        autonomy: typeof o.autonomy === 'string' ? o.autonomy : (process.env.LOKI_AUTONOMY_MODE ?? ''),
        project: typeof o.project === 'string' ? o.project : '',
        projectPath: typeof o.project === 'string' ? '' : process.cwd(),
        model: typeof o.model === 'string' ? o.model : '',
        baseUrl: typeof o.baseUrl === 'string' ? o.baseUrl : '',
        upstream: typeof o.upstream === 'string' ? o.upstream : '',
        maxIterations: typeof o.maxIterations === 'number' ? o.maxIterations : 0,
        network: o.network === true,
      });
      const s = await withSessions(ctx, (conn, c) => call(conn, c.start.bind(c), req, 120_000));
      if (o.json) return printJson(sessionJson(s));
      printLine(`started ${s.id} (${s.state}) on branch ${s.branch}`);
      printLine(`follow it with: loki sessions logs ${s.id} --follow`);
    });

  for (const verb of ['stop', 'pause', 'resume'] as const) {
    const what = { stop: 'ask the runner to finish, then stop the sandbox', pause: 'freeze the session\'s sandbox (docker pause)', resume: 'unfreeze a paused session; approves a pending staged-autonomy checkpoint' }[verb];
    program
      .command(verb)
      .description(what)
      .argument('[id]', 'session id (default: the only active session)')
      .option('--json', 'print JSON')
      .action(async (id: string | undefined, o: { json?: boolean }) => {
        const s = await withSessions(ctx, async (conn, c) => {
          const target = await pick(conn, c, id);
          return call(conn, c[verb].bind(c), { id: target }, 120_000);
        });
        if (o.json) return printJson(sessionJson(s));
        printLine(`${s.id} ${s.state}`);
      });
  }

  const sessions = program.command('sessions').description('list and inspect agent sessions');
  sessions
    .command('list')
    .description('sessions you may see (active ones unless --all)')
    .option('--all', 'include completed, failed and stopped sessions')
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const rows = await withSessions(ctx, (conn, c) => call(conn, c.list.bind(c), { all: o.all ?? false }));
      if (o.json) return printJson(rows.sessions.map(sessionJson));
      if (!rows.sessions.length) return printLine(o.all ? 'no sessions' : 'no active sessions (try --all)');
      printTable(
        ['ID', 'STATE', 'PROVIDER', 'ITER', 'COST', 'BRANCH', 'CREATED'],
        rows.sessions.map((s) => [s.id, s.state, s.provider, `${s.iteration}/${s.maxIterations}`, `$${s.costUsd.toFixed(2)}`, s.branch, formatTime(s.createdAtMs)]),
      );
    });
  sessions
    .command('show')
    .argument('<id>', 'session id')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const s = await withSessions(ctx, (conn, c) => call(conn, c.get.bind(c), { id }));
      if (o.json) return printJson(sessionJson(s));
      printSession(s);
    });
  sessions
    .command('logs')
    .description('the session\'s event log (from the start)')
    .argument('<id>', 'session id')
    .option('-f, --follow', 'keep streaming until the session ends')
    .option('--json', 'one JSON object per line')
    .action(async (id: string, o: { follow?: boolean; json?: boolean }) => {
      await withSessions(ctx, (conn, c) => streamEvents(conn, c, id, o.follow ?? false, (e) => printEvent(e, o.json ?? false)));
    });

  sessions
    .command('rm')
    .description('remove an ended session\'s workspace and container (the record and audit trail stay)')
    .argument('<id>', 'session id')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const r = await withSessions(ctx, (conn, c) => call(conn, c.remove.bind(c), { id }, 120_000));
      if (o.json) return printJson({ ...sessionJson(r.session!), freed_bytes: r.freedBytes });
      printLine(`removed the workspace of ${id} (${formatBytesShort(r.freedBytes)} freed)`);
    });
  sessions
    .command('prune')
    .description('remove the workspaces and containers of ended sessions')
    .option('--older-than <duration>', 'only sessions that ended at least this long ago, e.g. 7d, 12h, 30m (default: all ended)', parseDuration)
    .option('--dry-run', 'list what would be removed')
    .option('--json', 'print JSON')
    .action(async (o: { olderThan?: number; dryRun?: boolean; json?: boolean }) => {
      const r = await withSessions(ctx, (conn, c) => call(conn, c.prune.bind(c), { olderThanSeconds: o.olderThan ?? 0, dryRun: o.dryRun ?? false }, 600_000));
      if (o.json) return printJson({ removed: r.removed, freed_bytes: r.freedBytes, dry_run: o.dryRun ?? false });
      if (!r.removed.length) return printLine('nothing to prune');
      for (const id of r.removed) printLine(`${o.dryRun ? 'would remove' : 'removed'} ${id}`);
      if (!o.dryRun) printLine(`${r.removed.length} workspaces removed, ${formatBytesShort(r.freedBytes)} freed`);
    });

  program
    .command('metrics')
    .description('the loki_* session metrics in Prometheus text format (from the daemon)')
    .action(async () => {
      const m = await withSessions(ctx, (conn, c) => call(conn, c.metrics.bind(c), {}));
      process.stdout.write(formatSessionMetrics(m));
    });
}

/** Active sessions and pending approvals for `loki status`; undefined when the daemon has no session service. */
export async function sessionsOverview(conn: DaemonConnection): Promise<Session[] | undefined> {
  const c = conn.get(SessionServiceClient);
  try {
    return (await call(conn, c.list.bind(c), { all: false })).sessions;
  } catch (err) {
    if (err instanceof LokiError && err.kind === 'unavailable' && err.code !== 'daemon_unavailable') return undefined;
    throw err;
  }
}

/** `90`, `90s`, `30m`, `12h`, `7d`, `2w` → seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d{1,9})\s*([smhdw]?)$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration such as 90s, 30m, 12h, 7d or 2w, got ${JSON.stringify(value)}`);
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[m[2]!.toLowerCase() as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * mult;
}

function formatBytesShort(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Same names and meanings as the gateway's /metrics (docs/metrics.md), computed from the daemon's Metrics RPC. */
export function formatSessionMetrics(m: SessionMetricsResponse): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  const per = (f: (s: Session) => number) => m.sessions.map((s): [Record<string, string>, number] => [{ session: s.id }, f(s)]);
  const status = (s: Session) => (s.state === 'paused' ? 2 : TERMINAL.includes(s.state) ? 0 : 1);
  family('loki_session_status', 'gauge', 'Session status: 0 stopped, 1 running, 2 paused.', per(status));
  family('loki_iteration_current', 'gauge', 'Current iteration of the session.', per((s) => s.iteration));
  family('loki_iteration_max', 'gauge', 'Configured iteration cap of the session.', per((s) => s.maxIterations));
  const tasks: [Record<string, string>, number][] = [];
  for (const s of m.sessions) {
    const t = s.tasksReached;
    for (const [k, v] of [['pending', t?.pending], ['in_progress', t?.inProgress], ['completed', t?.completed], ['failed', t?.failed]] as const) tasks.push([{ session: s.id, status: k }, v ?? 0]);
  }
  family('loki_tasks_total', 'counter', 'Tasks that reached each status, by session and status.', tasks);
  family('loki_agents_active', 'gauge', 'Active agents in the session.', per((s) => s.agentsActive));
  family('loki_agents_total', 'counter', 'Agents registered by the session.', per((s) => s.agentsTotal));
  family('loki_cost_usd', 'gauge', 'Estimated cost of the session in USD.', per((s) => s.costUsd));
  family('loki_events_total', 'counter', 'Events recorded by the session.', per((s) => s.eventsTotal));
  family('loki_uptime_seconds', 'gauge', 'Session uptime in seconds.', per((s) => Math.round(s.uptimeSeconds)));
  family('loki_sessions_active', 'gauge', 'Sessions not yet completed, failed or stopped.', [[{}, m.active]]);
  family('loki_sessions_created_total', 'counter', 'Sessions created.', [[{}, m.createdTotal]]);
  family('loki_policy_decisions_total', 'counter', 'Policy decisions on agent actions, by decision.', [
    [{ decision: 'allow' }, m.decisionsAllow],
    [{ decision: 'deny' }, m.decisionsDeny],
    [{ decision: 'ask' }, m.decisionsAsk],
  ]);
  family('loki_approvals_pending', 'gauge', 'Approvals waiting for a human.', [[{}, m.approvalsPending]]);
  return out.join('\n') + '\n';
}

