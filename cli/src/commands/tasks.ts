// `loki tasks list`: the tasks sessions reported, across the projects you can see.
import type { Command } from 'commander';
import { LokiError, TASK_STATUSES } from '../../../common/src/index.js';
import type { TaskStatus } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

const STATUSES: readonly TaskStatus[] = TASK_STATUSES;

export function registerTasksCommands(program: Command, ctx: CliContext): void {
  const tasks = program.command('tasks').description('tasks reported by sessions, across projects');
  tasks
    .command('list')
    .alias('ls')
    .description('tasks across the projects you can see')
    .option('--status <status>', `only this status (${STATUSES.join(', ')})`)
    .option('--project <id-or-name>', 'only this project')
    .option('--limit <n>', 'at most N tasks (default 1000)')
    .option('--json', 'print JSON')
    .action(async (o: { status?: string; project?: string; limit?: string; json?: boolean }) => {
      if (o.status && !STATUSES.includes(o.status as TaskStatus)) throw new LokiError('invalid_argument', `--status must be one of ${STATUSES.join(', ')}`);
      if (o.limit !== undefined && (!/^\d+$/.test(o.limit) || Number(o.limit) < 1 || Number(o.limit) > 10_000)) throw new LokiError('invalid_argument', '--limit must be an integer from 1 to 10000');
      const rows = await withClient(ctx, (c) =>
        c.tasks.list({ ...(o.status ? { status: o.status as TaskStatus } : {}), ...(o.project ? { project: o.project } : {}), ...(o.limit ? { limit: Number(o.limit) } : {}) }),
      );
      if (jsonMode(ctx, o)) return printJson({ tasks: rows });
      if (!rows.length) return printLine('no tasks');
      printTable(['PROJECT', 'SESSION', 'TASK', 'STATUS', 'SESSION STATE', 'STARTED'], rows.map((t) => [t.project_name, t.session_id, t.task_id, t.status, t.session_state, formatTime(t.session_created_at)]));
    });
}
