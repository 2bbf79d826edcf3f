// `loki projects register|list|show|rm` (the registry's discover/health/sync
// live in projects-registry.ts): git repositories the daemon may use.
import type { Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { escapeForDisplay } from '../../../common/src/display.js';
import { LokiError } from '../../../common/src/index.js';
import type { Project } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';
import { registerProjectPruneCommand, registerProjectRegistryCommands } from './projects-registry.js';

function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

function printProject(p: Project): void {
  printLine(`project ${p.name} (${p.id})${p.alias ? ` alias ${p.alias}` : ''}${p.shared ? ' [shared]' : ''}`);
  // A path is whatever bytes the directory names hold (an operator may create them): escaped like the tables.
  printLine(`  path:   ${escapeForDisplay(p.path)}`);
  printLine(`  base:   ${p.base_branch}`);
  printLine(`  remote: ${p.remote === null ? '(none)' : escapeForDisplay(p.remote)}`);
  if (p.protected_branches.length) printLine(`  protected (besides main, master, ${p.base_branch}): ${p.protected_branches.join(', ')}`);
  printLine(`  registered by ${p.registered_by} at ${formatTime(p.registered_at)}`);
}

export function registerProjectsCommands(program: Command, ctx: CliContext): void {
  const projects = program.command('projects').description('git repositories the daemon may clone into session workspaces');

  projects
    .command('register')
    .description('allow the daemon to use the git repository at PATH')
    .argument('<path>', "top level of a (non-bare) git repository (remote mode: an absolute path on the daemon's host)")
    .option('--name <name>', 'project name (default: the directory name)')
    .option('--alias <alias>', 'a second name the project answers to')
    .option('--base <branch>', 'base branch for session workspaces (default: the current branch)')
    .option('--remote <name>', 'git remote for pushes and PRs (default: origin, when present)')
    .option('--protect <pattern>', 'extra protected branch glob, e.g. release/* (repeatable)', collect, [] as string[])
    .option('--json', 'print JSON')
    .action(async (path: string, o: { name?: string; alias?: string; base?: string; remote?: string; protect: string[]; json?: boolean }) => {
      const p = await withClient(ctx, (c, conn) => {
        // The daemon needs an absolute path: locally, resolve against this directory; remotely, the caller must give one.
        if (conn.kind === 'remote' && !isAbsolute(path)) throw new LokiError('invalid_argument', "remotely, give the repository's absolute path on the daemon's host");
        return c.projects.register({
          path: conn.kind === 'local' ? resolve(path) : path,
          ...(o.name ? { name: o.name } : {}),
          ...(o.alias ? { alias: o.alias } : {}),
          ...(o.base ? { base_branch: o.base } : {}),
          ...(o.remote ? { remote: o.remote } : {}),
          protected_branches: o.protect,
        });
      });
      if (jsonMode(ctx, o)) return printJson(p);
      printLine(`registered project ${p.name} (${p.id})`);
      printProject(p);
    });

  projects
    .command('list')
    .alias('ls')
    .description('list registered projects')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await withClient(ctx, (c) => c.projects.list());
      if (jsonMode(ctx, o)) return printJson({ projects: rows });
      if (rows.length === 0) return printLine('no projects; register one with `loki projects register PATH`');
      printTable(['ID', 'NAME', 'ALIAS', 'BASE', 'REMOTE', 'OWNER', 'PATH'], rows.map((p) => [p.id, p.name, p.alias ?? '-', p.base_branch, p.remote ?? '-', p.shared ? `${p.registered_by} (shared)` : p.registered_by, p.path]));
    });

  projects
    .command('show')
    .description('one registered project')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const p = await withClient(ctx, (c) => c.projects.get(id));
      if (jsonMode(ctx, o)) return printJson(p);
      printProject(p);
    });

  projects
    .command('rm')
    .alias('remove')
    .description('forget a registered project (its repository is left alone)')
    .argument('<id-or-name>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      await withClient(ctx, (c) => c.projects.remove(id));
      if (jsonMode(ctx, o)) return printJson({ removed: true, id });
      printLine(`${id} removed`);
    });

  registerProjectRegistryCommands(projects, ctx);
  registerProjectPruneCommand(projects, ctx);
}
