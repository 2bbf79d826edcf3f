// `loki projects discover|health|sync`: the registry's views over many repositories.
import type { Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { LokiError, escapeForDisplay } from '../../../common/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

function parseDepth(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 8) throw new LokiError('invalid_argument', `--depth must be an integer from 0 to 8, got ${JSON.stringify(v)}`);
  return n;
}

export function registerProjectRegistryCommands(projects: Command, ctx: CliContext): void {
  projects
    .command('discover')
    .description('find git repositories under ROOTs (default: the daemon git.registry_roots); symlinks are never followed and nothing in a repository runs')
    .argument('[roots...]', "directories to search (remote mode: absolute paths on the daemon's host)")
    .option('--depth <n>', 'directory levels below each root (default 3, at most 8)')
    .option('--register', 'register every repository found that is not registered yet')
    .option('--json', 'print JSON')
    .action(async (roots: string[], o: { depth?: string; register?: boolean; json?: boolean }) => {
      const depth = o.depth === undefined ? undefined : parseDepth(o.depth);
      const r = await withClient(ctx, (c, conn) => {
        if (conn.kind === 'remote' && roots.some((x) => !isAbsolute(x))) throw new LokiError('invalid_argument', "remotely, give absolute paths on the daemon's host");
        return c.projects.discover({
          roots: roots.map((x) => (conn.kind === 'local' ? resolve(x) : x)),
          ...(depth !== undefined ? { depth } : {}),
          ...(o.register ? { register: true } : {}),
        });
      });
      if (jsonMode(ctx, o)) return printJson(r);
      if (!r.repos.length) printLine('no git repositories found');
      else printTable(['PATH', 'PROJECT', 'NOTE'], r.repos.map((x) => [x.path, x.project_name ?? '-', x.error ?? (x.project_id ? '' : 'not registered')]));
      if (r.skipped_symlinks.length) printLine(`${r.skipped_symlinks.length} symlink(s) not followed`);
      if (r.truncated) printLine('the walk stopped at its entry limit; narrow the roots or the depth');
    });

  projects
    .command('health')
    .description('check projects: repo readable, base branch, working tree, remote, last session, sandbox image')
    .argument('[id-or-name]', 'one project (default: every project you can see)')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { json?: boolean }) => {
      const reports = await withClient(ctx, async (c) => {
        const names = id ? [id] : (await c.projects.list()).map((p) => p.id);
        const out = [];
        for (const n of names) out.push(await c.projects.health(n));
        return out;
      });
      // Exit 1 when a project fails, with --json too (scripts read the code).
      if (reports.some((h) => h.status === 'fail')) process.exitCode = 1;
      if (jsonMode(ctx, o)) return printJson(id ? reports[0] : { projects: reports });
      if (!reports.length) return printLine('no projects; register one with `loki projects register PATH`');
      for (const h of reports) {
        printLine(`${escapeForDisplay(h.project.name)}: ${h.status}`);
        for (const ch of h.checks) printLine(`  ${ch.status.padEnd(4)} ${ch.name.padEnd(14)} ${escapeForDisplay(ch.detail)}`);
      }
    });

  projects
    .command('sync')
    .description('branches, last commit on the base branch and open session branches of every project you can see')
    .argument('[id-or-name]', 'one project')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { json?: boolean }) => {
      const rows = await withClient(ctx, (c) => c.projects.sync(id));
      // A project that could not be read is a failure, as in `health`: exit 1 (with --json too).
      if (rows.some((p) => p.error)) process.exitCode = 1;
      if (jsonMode(ctx, o)) return printJson({ projects: rows });
      if (!rows.length) return printLine('no projects; register one with `loki projects register PATH`');
      printTable(
        ['PROJECT', 'BRANCHES', 'LAST COMMIT', 'WHEN', 'SESSION BRANCHES'],
        rows.map((p) => [p.project_name, String(p.branches), p.error ? `error: ${escapeForDisplay(p.error)}` : `${(p.last_commit ?? '').slice(0, 10)} ${p.last_commit_subject ?? ''}`, formatTime(p.last_commit_at), String(p.session_branches.length)]),
      );
    });
}

export function registerProjectPruneCommand(projects: Command, ctx: CliContext): void {
  projects
    .command('prune')
    .description('session branches that are merged, identical to their base, or of removed sessions (dry run unless --yes)')
    .argument('[id-or-name]', 'one project (default: every project you registered)')
    .option('--yes', 'delete them (audited)')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { yes?: boolean; json?: boolean }) => {
      const r = await withClient(ctx, (c) => c.projects.prune(id, { yes: o.yes ?? false }));
      if (jsonMode(ctx, o)) return printJson(r);
      const rows = r.projects.flatMap((p) => (p.error ? [[p.project_name, '-', '-', `error: ${p.error}`]] : p.branches.map((b) => [p.project_name, b.branch, b.reason, r.dry_run ? 'would delete' : b.deleted ? 'deleted' : `kept: ${b.error ?? ''}`])));
      if (!rows.length) return printLine('no session branches to prune');
      printTable(['PROJECT', 'BRANCH', 'WHY', 'ACTION'], rows);
      if (r.dry_run) printLine('dry run: nothing was deleted; run again with --yes to delete');
    });
}
