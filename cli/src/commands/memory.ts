// `loki memory list|search`: learnings sessions recorded, across the projects you can see.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import type { Learning } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

function parseLimit(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1000) throw new LokiError('invalid_argument', '--limit must be an integer from 1 to 1000');
  return Number(v);
}

function print(rows: Learning[], search: boolean): void {
  if (!rows.length) return printLine(search ? 'no learning matches' : 'no learnings yet');
  printTable(
    search ? ['MATCH', 'PROJECT', 'WHEN', 'TAGS', 'TEXT'] : ['PROJECT', 'WHEN', 'TAGS', 'TEXT'],
    rows.map((l) => {
      const cells = [l.project_name, formatTime(l.created_at), l.tags.join(',') || '-', l.text.replace(/\s+/g, ' ').slice(0, 200)];
      return search ? [l.match ?? '-', ...cells] : cells;
    }),
  );
}

export function registerMemoryCommands(program: Command, ctx: CliContext): void {
  const memory = program.command('memory').description('learnings recorded by sessions, across projects');
  memory
    .command('list')
    .alias('ls')
    .description('the newest learnings')
    .option('--project <id-or-name>', 'only this project')
    .option('--limit <n>', 'at most N (default 100)')
    .option('--json', 'print JSON')
    .action(async (o: { project?: string; limit?: string; json?: boolean }) => {
      const limit = parseLimit(o.limit);
      const rows = await withClient(ctx, (c) => c.memory.list({ ...(o.project ? { project: o.project } : {}), ...(limit ? { limit } : {}) }));
      if (jsonMode(ctx, o)) return printJson({ learnings: rows });
      print(rows, false);
    });
  memory
    .command('search')
    .description('ranked full-text search; an exact phrase match ranks first')
    .argument('<query...>', 'words to look for')
    .option('--project <id-or-name>', 'only this project')
    .option('--limit <n>', 'at most N (default 50)')
    .option('--json', 'print JSON')
    .action(async (words: string[], o: { project?: string; limit?: string; json?: boolean }) => {
      const limit = parseLimit(o.limit);
      const q = words.join(' ').trim();
      if (!q) throw new LokiError('invalid_argument', 'give something to search for');
      const rows = await withClient(ctx, (c) => c.memory.search(q, { ...(o.project ? { project: o.project } : {}), ...(limit ? { limit } : {}) }));
      if (jsonMode(ctx, o)) return printJson({ learnings: rows });
      print(rows, true);
    });
}
