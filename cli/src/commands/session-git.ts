// `loki session diff|patch|branch ID`: the session's git side, read through the
// daemon (the diff is computed in the project repository, never inside the workspace).
import type { Command } from 'commander';
import { counted, escapeForDisplay, hasHiddenCharacters } from '../../../common/src/index.js';
import type { PullRequestResult } from '../../../client/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { printJson, printLine, printTable } from '../output.js';
import { sessionId } from './sessions.js';
import { jsonMode } from './options.js';

function printPullRequest(pr: PullRequestResult): void {
  if (pr.opened) return printLine(`pull request: ${pr.url ?? '(opened)'}${pr.reason ? ` (${escapeForDisplay(pr.reason)})` : ''}`);
  printLine(`pull request: not opened: ${escapeForDisplay(pr.reason ?? 'unknown reason')}`);
  if (pr.commands.length) {
    printLine('  to open it by hand:');
    // The title and body come from agent commits. lokid quotes them so the command holds no
    // control or invisible character (ANSI-C escapes instead) and prints exactly as it must be
    // pasted; anything else (an older lokid) is escaped so no terminal sequence gets through.
    for (const c of pr.commands) printLine(`    ${hasHiddenCharacters(c) ? escapeForDisplay(c) : c}`);
  }
}

export function registerSessionGitCommands(session: Command, ctx: CliContext): void {
  session
    .command('diff')
    .description('summarize the session branch against its pinned base commit')
    .argument('<id>', 'session id or unique prefix')
    .option('--patch', 'also print the unified patch (as `loki session patch`)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean; patch?: boolean }) => {
      const [d, p] = await withClient(ctx, async (c) => {
        const sid = await sessionId(c, id);
        return Promise.all([c.sessions.diff(sid), o.patch ? c.sessions.patch(sid) : undefined]);
      });
      if (jsonMode(ctx, o)) return printJson(p ? { ...d, patch: p.patch, patch_truncated: p.truncated } : d);
      printLine(`${d.branch} vs ${d.base_branch} @ ${d.base_commit.slice(0, 12)}${d.descends_from_base ? '' : '  (does NOT descend from the base commit)'}`);
      printLine(`${counted(d.files_changed, 'file')} changed, ${counted(d.insertions, 'insertion')}(+), ${counted(d.deletions, 'deletion')}(-), ${counted(d.commits.length, 'commit')}`);
      if (d.files.length) {
        printLine();
        printTable(['+', '-', 'FILE'], d.files.map((f) => (f.binary ? ['bin', 'bin', f.path] : [String(f.insertions), String(f.deletions), f.path])));
      }
      if (d.commits.length) {
        printLine();
        printTable(['COMMIT', 'SUBJECT'], d.commits.map((cm) => [cm.sha.slice(0, 12), cm.subject]));
      }
      if (d.pull_request) {
        printLine();
        printPullRequest(d.pull_request);
      }
      if (p) {
        printLine();
        process.stdout.write(p.patch);
        if (p.truncated) process.stderr.write("loki: the patch was cut at the daemon's size limit\n");
      }
    });

  session
    .command('pr')
    .description("push the session branch and open its pull request now (gh on the daemon's host); otherwise say why, with the commands")
    .argument('<id>', 'session id or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const pr = await withClient(ctx, async (c) => c.sessions.pullRequest(await sessionId(c, id)));
      if (jsonMode(ctx, o)) return printJson(pr);
      printPullRequest(pr);
      if (!pr.opened) process.exitCode = 1;
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
