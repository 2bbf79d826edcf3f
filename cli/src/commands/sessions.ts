// Loki Mode's session commands: `loki start|stop|pause|resume`, `loki sessions
// list|show|logs|rm|prune` and `loki metrics`, through the LokiClient (either transport).
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AUTONOMY_MODES, LokiError, PROVIDERS, displayLines, escapeForDisplay, listText, sessionStatusValue } from '../../../common/src/index.js';
import { type LokiClient, type Session, type SessionEvent, type SessionMetrics } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { resolveId } from '../ids.js';
import { formatBytes, formatDuration, formatTime, printJson, printJsonLine, printLine, printTable, reconnectNotice } from '../output.js';
import { jsonMode, parseDuration, parsePositiveIntOption } from './options.js';

/** A session id from a unique prefix (or the one active session when none is given). */
export async function sessionId(c: LokiClient, id: string | undefined): Promise<string> {
  if (id) return resolveId('session', id, async () => c.sessions.list({ all: true }));
  const active = await c.sessions.list();
  if (active.length === 1) return active[0]!.id;
  if (!active.length) throw new LokiError('session_not_found', 'no active session; pass a session id');
  throw new LokiError('invalid_argument', `several sessions are active (${active.map((s) => s.id).join(', ')}); pass one id`);
}

function printSession(s: Session): void {
  printLine(`${s.id}  ${s.state}${s.reason ? ` (${escapeForDisplay(s.reason)})` : ''}`);
  printLine(`  provider ${s.provider}, profile ${s.profile}${s.autonomy ? `, autonomy ${s.autonomy}` : ''}, owner ${s.owner}`);
  if (s.branch) printLine(`  branch   ${s.branch}`);
  if (s.upstream) printLine(`  upstream ${s.upstream}${s.model ? `, model ${s.model}` : ''}`);
  if (s.workspace_removed) printLine('  workspace removed (sessions rm, prune or retention); the branch and audit trail stay');
  printLine(`  prd      ${escapeForDisplay(s.prd)}`);
  printLine(`  iteration ${s.iteration}/${s.max_iterations}, cost $${s.cost_usd.toFixed(4)}, events ${s.events_total}, uptime ${formatDuration(s.uptime_seconds)}`);
  const t = s.tasks;
  printLine(`  tasks    ${t.pending} pending, ${t.in_progress} in progress, ${t.completed} completed, ${t.failed} failed`);
  printLine(`  policy   ${s.decisions.allow} allowed, ${s.decisions.deny} denied, ${s.decisions.ask} asked`);
}

function printEvent(e: SessionEvent, json: boolean): void {
  if (json) return printJsonLine(e);
  // A command's output spans lines: each one under its event, indented behind a bar.
  const [first = '', ...more] = displayLines(e.message);
  printLine(`${formatTime(e.time)} #${e.seq} ${e.type.padEnd(14)} ${first}`);
  for (const line of more) printLine(`    │ ${line}`);
}

/** The daemon names the known providers; say here how to choose one. */
async function startWithHint(c: LokiClient, input: Parameters<LokiClient['sessions']['start']>[0]): Promise<Session> {
  try {
    return await c.sessions.start(input);
  } catch (err) {
    // Only for an unknown provider: other refusals name a provider too ("unknown model upstream … for the openai provider").
    if (err instanceof LokiError && err.code === 'invalid_argument' && /^unknown provider\b/.test(err.message)) {
      throw new LokiError('invalid_argument', `${err.message}; pick one with --provider NAME or LOKI_PROVIDER (without either, the daemon's sessions.default_provider applies)`);
    }
    throw err;
  }
}

function readPlan(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // Unlike a remote session's PRD (a path inside the project), the plan is read on this machine.
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new LokiError('invalid_argument', `cannot read the plan file ${resolve(file)} (${code}); --plan is read on this machine, relative to the current directory`);
  }
}

export function registerSessionCommands(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('start an agent session on a PRD (sessions always run in a sandbox)')
    .argument('[prd]', 'PRD file (Markdown); local: relative to the current directory; remote: a path inside the project')
    .option('--prompt <text>', 'an inline prompt instead of a PRD file')
    .option('--provider <name>', `${listText(PROVIDERS)} (default: $LOKI_PROVIDER, else the daemon's sessions.default_provider)`)
    .option('--plan <file>', 'script provider: JSON or YAML list of steps')
    .option('--profile <name>', 'policy profile (default: policy.default_profile)')
    .option('--autonomy <mode>', `${listText(AUTONOMY_MODES)} (default: $LOKI_AUTONOMY_MODE)`)
    .option('--model <name>', 'openai/claude model')
    .option('--upstream <name>', 'openai: a model upstream configured in sessions.openai.upstreams (default: the default upstream)')
    .option('--base-url <url>', 'openai: chat-completions base URL; local admin socket only, unless it is exactly a configured upstream\'s (only those get a key)')
    .option('--project <name>', 'registered project (default: the git repository of the current directory; required remotely)')
    .option('--max-iterations <n>', 'iteration cap', parsePositiveIntOption)
    .option('--network', 'ask for network access in the sandbox (the daemon must allow it too)')
    .option('--sandbox', 'accepted for Loki Mode compatibility: sessions always run sandboxed')
    .option('--json', 'print JSON')
    .action(async (prd: string | undefined, o: Record<string, string | boolean | number | undefined>) => {
      if (o.sandbox || /^(1|true|yes)$/i.test(process.env.LOKI_SANDBOX_MODE ?? '')) {
        process.stderr.write('note: sessions always run in a hardened sandbox; --sandbox / LOKI_SANDBOX_MODE change nothing\n');
      }
      if (!prd && typeof o.prompt !== 'string') throw new LokiError('invalid_argument', 'give a PRD file (`loki start ./prd.md`) or an inline prompt (--prompt "…")');
      const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
      const s = await withClient(ctx, async (c, conn) => {
        const local = conn.kind === 'local';
        if (!local && !str('project')) throw new LokiError('invalid_argument', 'remotely, name the registered project with --project (see `loki projects list`)');
        const provider = str('provider') ?? (process.env.LOKI_PROVIDER || undefined);
        const autonomy = str('autonomy') ?? (process.env.LOKI_AUTONOMY_MODE || undefined);
        return startWithHint(c, {
          ...(prd ? { prd: local ? resolve(prd) : prd } : {}),
          ...(str('prompt') ? { prompt: str('prompt') } : {}),
          ...(provider ? { provider } : {}),
          ...(str('plan') ? { plan: readPlan(str('plan')!) } : {}),
          ...(str('profile') ? { profile: str('profile') } : {}),
          ...(autonomy ? { autonomy } : {}),
          ...(str('project') ? { project: str('project') } : local ? { project_path: process.cwd() } : {}),
          ...(str('model') ? { model: str('model') } : {}),
          ...(str('baseUrl') ? { base_url: str('baseUrl') } : {}),
          ...(str('upstream') ? { upstream: str('upstream') } : {}),
          ...(typeof o.maxIterations === 'number' ? { max_iterations: o.maxIterations } : {}),
          network: o.network === true,
        });
      });
      if (jsonMode(ctx, o)) return printJson(s);
      printLine(`started ${s.id} (${s.state}, provider ${s.provider}) on branch ${s.branch}`);
      printLine(`follow it with: loki sessions logs ${s.id} --follow`);
    });

  for (const verb of ['stop', 'pause', 'resume'] as const) {
    const what = { stop: 'ask the runner to finish, then stop the sandbox', pause: "freeze the session's sandbox (docker pause)", resume: 'unfreeze a paused session; approves a pending staged-autonomy checkpoint' }[verb];
    program
      .command(verb)
      .description(what)
      .argument('[id]', 'session id or unique prefix (default: the only active session)')
      .option('--json', 'print JSON')
      .action(async (id: string | undefined, o: { json?: boolean }) => {
        const s = await withClient(ctx, async (c) => c.sessions[verb](await sessionId(c, id)));
        if (jsonMode(ctx, o)) return printJson(s);
        printLine(`${s.id} ${s.state}`);
      });
  }

  const sessions = program.command('sessions').description('list and inspect agent sessions');
  sessions
    .command('list')
    .alias('ls')
    .description('sessions you may see (active ones unless --all)')
    .option('--all', 'include completed, failed and stopped sessions')
    .option('--limit <n>', 'one page of at most n sessions (1-500), oldest first; without it every page is shown', parsePositiveIntOption)
    .option('--page-token <token>', 'the page after the one that printed this token (with --limit)')
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; limit?: number; pageToken?: string; json?: boolean }) => {
      if (o.pageToken && o.limit === undefined) throw new LokiError('invalid_argument', '--page-token needs --limit');
      const all = o.all ?? false;
      const page = await withClient(ctx, (c) => (o.limit === undefined ? c.sessions.list({ all }).then((sessions) => ({ sessions, next_page_token: null })) : c.sessions.listPage({ all, limit: o.limit, ...(o.pageToken ? { page_token: o.pageToken } : {}) })));
      const rows = page.sessions;
      if (jsonMode(ctx, o)) return printJson(o.limit === undefined ? { sessions: rows } : page);
      if (!rows.length) return printLine(o.all ? 'no sessions' : 'no active sessions (try --all)');
      printTable(
        ['ID', 'STATE', 'PROVIDER', 'ITER', 'COST', 'BRANCH', 'CREATED'],
        rows.map((s) => [s.id, s.state, s.provider, `${s.iteration}/${s.max_iterations}`, `$${s.cost_usd.toFixed(2)}`, s.branch, formatTime(s.created_at)]),
      );
      if (page.next_page_token) printLine(`more: loki sessions list${all ? ' --all' : ''} --limit ${o.limit} --page-token ${page.next_page_token}`);
    });
  sessions
    .command('show')
    .description("one session's state, branch, progress, cost and policy decisions")
    .argument('<id>', 'session id or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const s = await withClient(ctx, async (c) => c.sessions.get(await sessionId(c, id)));
      if (jsonMode(ctx, o)) return printJson(s);
      printSession(s);
    });
  sessions
    .command('logs')
    .description("the session's event log (from the start)")
    .argument('<id>', 'session id or unique prefix')
    .option('-f, --follow', 'keep streaming until the session ends')
    .option('--after <seq>', 'only events after this sequence number', parsePositiveIntOption)
    .option('--json', 'one JSON object per line')
    .action(async (id: string, o: { follow?: boolean; after?: number; json?: boolean }) => {
      await withClient(ctx, async (c) => {
        const sid = await sessionId(c, id);
        const onReconnect = reconnectNotice(jsonMode(ctx, o));
        for await (const e of c.sessions.events(sid, { follow: o.follow ?? false, after_seq: o.after ?? 0, ...(onReconnect ? { on_reconnect: onReconnect } : {}) })) printEvent(e, jsonMode(ctx, o));
      });
    });

  sessions
    .command('rm')
    .description("remove an ended session's workspace and container (the record, branch and audit trail stay)")
    .argument('<id>', 'session id or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const r = await withClient(ctx, async (c) => c.sessions.remove(await sessionId(c, id)));
      if (jsonMode(ctx, o)) return printJson(r);
      printLine(`removed the workspace of ${r.session.id} (${formatBytes(r.freed_bytes)} freed)`);
    });
  sessions
    .command('prune')
    .description('remove the workspaces and containers of ended sessions you may control')
    .option('--older-than <duration>', 'only sessions that ended at least this long ago, e.g. 7d, 12h, 30m (default: every ended session)', parseDuration)
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print JSON')
    .action(async (o: { olderThan?: number; dryRun?: boolean; json?: boolean }) => {
      const r = await withClient(ctx, (c) => c.sessions.prune({ older_than_seconds: o.olderThan ?? 0, dry_run: o.dryRun ?? false }));
      if (jsonMode(ctx, o)) return printJson(r);
      if (!r.removed.length) return printLine('nothing to prune');
      for (const x of r.removed) printLine(`${r.dry_run ? 'would remove' : 'removed'} ${x}`);
      if (!r.dry_run) printLine(`${r.removed.length} workspace${r.removed.length === 1 ? '' : 's'} removed, ${formatBytes(r.freed_bytes)} freed`);
    });

  program
    .command('metrics')
    .description('the loki_* session metrics in Prometheus text format (from the daemon)')
    .action(async () => {
      const m = await withClient(ctx, (c) => c.sessions.metrics());
      process.stdout.write(formatSessionMetrics(m));
    });
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Same names and meanings as the gateway's /metrics (docs/metrics.md), computed from the daemon's Metrics RPC. */
export function formatSessionMetrics(m: SessionMetrics): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${v}`);
    }
  };
  const per = (f: (s: Session) => number) => m.sessions.map((s): [Record<string, string>, number] => [{ session: s.id }, f(s)]);
  const status = (s: Session) => sessionStatusValue(s.state);
  family('loki_session_status', 'gauge', 'Session status: 0 stopped, 1 running, 2 paused.', per(status));
  family('loki_iteration_current', 'gauge', 'Current iteration of the session.', per((s) => s.iteration));
  family('loki_iteration_max', 'gauge', 'Configured iteration cap of the session.', per((s) => s.max_iterations));
  const tasks: [Record<string, string>, number][] = [];
  for (const s of m.sessions) {
    const t = s.tasks_reached;
    for (const [k, v] of [['pending', t.pending], ['in_progress', t.in_progress], ['completed', t.completed], ['failed', t.failed]] as const) tasks.push([{ session: s.id, status: k }, v]);
  }
  family('loki_tasks_total', 'counter', 'Tasks that reached each status, by session and status.', tasks);
  family('loki_agents_active', 'gauge', 'Active agents in the session.', per((s) => s.agents.active));
  family('loki_agents_total', 'counter', 'Agents registered by the session.', per((s) => s.agents.total));
  family('loki_cost_usd', 'gauge', 'Estimated cost of the session in USD.', per((s) => s.cost_usd));
  family('loki_events_total', 'counter', 'Events recorded by the session.', per((s) => s.events_total));
  family('loki_uptime_seconds', 'gauge', 'Session uptime in seconds.', per((s) => Math.round(s.uptime_seconds)));
  family('loki_sessions_active', 'gauge', 'Sessions not yet completed, failed or stopped.', [[{}, m.active]]);
  family('loki_sessions_created_total', 'counter', 'Sessions created.', [[{}, m.created_total]]);
  family('loki_policy_decisions_total', 'counter', 'Policy decisions on agent actions, by decision.', [
    [{ decision: 'allow' }, m.decisions.allow],
    [{ decision: 'deny' }, m.decisions.deny],
    [{ decision: 'ask' }, m.decisions.ask],
  ]);
  family('loki_approvals_pending', 'gauge', 'Approvals waiting for a human.', [[{}, m.approvals_pending]]);
  return out.join('\n') + '\n';
}
