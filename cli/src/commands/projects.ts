// `loki projects register|list`: git repositories the daemon may use.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { WorkspaceServiceClient, type Project } from '../../../proto/gen/loki/v1/workspace.js';
import { call, connectDaemon } from '../client.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';

function projectDto(p: Project) {
  return {
    id: p.id,
    name: p.name,
    path: p.path,
    base_branch: p.baseBranch,
    remote: p.remote || null,
    protected_branches: p.protectedBranches,
    registered_by: p.registeredBy,
    registered_at: formatTime(p.registeredAtMs),
  };
}

function collect(value: string, prev: string[]): string[] {
  return [...prev, value];
}

export function registerProjectsCommands(program: Command, ctx: CliContext): void {
  const projects = program.command('projects').description('git repositories the daemon may clone into session workspaces');

  projects
    .command('register')
    .description('allow the daemon to use the git repository at PATH')
    .argument('<path>', 'top level of a (non-bare) git repository')
    .option('--name <name>', 'project name (default: the directory name)')
    .option('--base <branch>', 'base branch for session workspaces (default: the current branch)')
    .option('--remote <name>', 'git remote for pushes and PRs (default: origin, when present)')
    .option('--protect <pattern>', 'extra protected branch glob, e.g. release/* (repeatable)', collect, [] as string[])
    .option('--json', 'print JSON')
    .action(async (path: string, o: { name?: string; base?: string; remote?: string; protect: string[]; json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(WorkspaceServiceClient);
        // The daemon needs an absolute path; resolve it against the caller's directory here.
        const p = await call(conn, c.registerProject.bind(c), {
          path: resolve(path),
          name: o.name ?? '',
          baseBranch: o.base ?? '',
          remote: o.remote ?? '',
          protectedBranches: o.protect,
        });
        if (o.json) return printJson(projectDto(p));
        printLine(`registered project ${p.name} (${p.id})`);
        printLine(`  path:   ${p.path}`);
        printLine(`  base:   ${p.baseBranch}`);
        printLine(`  remote: ${p.remote || '(none)'}`);
        if (p.protectedBranches.length) printLine(`  protected (besides main, master, ${p.baseBranch}): ${p.protectedBranches.join(', ')}`);
      } finally {
        conn.close();
      }
    });

  projects
    .command('list')
    .description('list registered projects')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(WorkspaceServiceClient);
        const res = await call(conn, c.listProjects.bind(c), {});
        if (o.json) return printJson(res.projects.map(projectDto));
        if (res.projects.length === 0) return printLine('no projects; register one with `loki projects register PATH`');
        printTable(
          ['ID', 'NAME', 'BASE', 'REMOTE', 'PATH'],
          res.projects.map((p) => [p.id, p.name, p.baseBranch, p.remote || '-', p.path]),
        );
      } finally {
        conn.close();
      }
    });
}
