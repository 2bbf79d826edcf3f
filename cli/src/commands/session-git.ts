// `loki session diff|patch|branch ID`: the session's git side, read through the
// daemon (the diff is computed in the project repository, never inside the workspace).
import type { Command } from 'commander';
import { withClient, type CliContext } from '../context.js';
import { printJson, printLine, printTable } from '../output.js';
import { sessionId } from './sessions.js';
import { jsonMode } from './options.js';

export function registerSessionGitCommands(session: Command, ctx: CliContext): void {
  session
    .command('diff')
    .description('summarize the session branch against its pinned base commit')
    .argument('<id>', 'session id or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const d = await withClient(ctx, async (c) => c.sessions.diff(await sessionId(c, id)));
      if (jsonMode(ctx, o)) return printJson(d);
      printLine(`${d.branch} vs ${d.base_branch} @ ${d.base_commit.slice(0, 12)}${d.descends_from_base ? '' : '  (does NOT descend from the base commit)'}`);
      printLine(`${d.files_changed} files changed, ${d.insertions} insertions(+), ${d.deletions} deletions(-), ${d.commits.length} commits`);
      if (d.files.length) {
        printLine();
        printTable(['+', '-', 'FILE'], d.files.map((f) => (f.binary ? ['bin', 'bin', f.path] : [String(f.insertions), String(f.deletions), f.path])));
      }
      if (d.commits.length) {
        printLine();
        printTable(['COMMIT', 'SUBJECT'], d.commits.map((cm) => [cm.sha.slice(0, 12), cm.subject]));
      }
    });

  session
    .command('patch')
    .description('print the session branch as a unified diff against its base commit')
    .argument('<id>', 'session id or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const p = await withClient(ctx, async (c) => c.sessions.patch(await sessionId(c, id)));
      if (jsonMode(ctx, o)) return printJson(p);
      process.stdout.write(p.patch);
      if (p.truncated) process.stderr.write('loki: the patch was cut at the daemon\'s size limit\n');
    });

  session
    .command('branch')
    .description("show the session's branch, base and workspace")
    .argument('<id>', 'session id or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const w = await withClient(ctx, async (c) => c.sessions.workspace(await sessionId(c, id)));
      if (jsonMode(ctx, o)) return printJson(w);
      printLine(w.branch);
      printLine(`  base:      ${w.base_branch} @ ${w.base_commit}`);
      printLine(`  brought back: ${w.head_commit ?? '(not yet)'}`);
      printLine(`  state:     ${w.state}`);
      printLine(`  workspace: ${w.workspace}`);
    });
}
