// `loki session diff|branch ID`: the session's git side, read through the daemon
// (the diff is computed in the project repository, never inside the workspace).
import type { Command } from 'commander';
import { WorkspaceServiceClient, type DiffSummary, type Workspace } from '../../../proto/gen/loki/v1/workspace.js';
import { call, connectDaemon } from '../client.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';

function workspaceDto(w: Workspace) {
  return {
    session_id: w.sessionId,
    project_id: w.projectId,
    branch: w.branch,
    base_branch: w.baseBranch,
    base_commit: w.baseCommit,
    head_commit: w.headCommit || null,
    state: w.state,
    workspace: w.path,
    agent: w.agent,
    owner: w.owner,
    created_at: formatTime(w.createdAtMs),
    finished_at: w.finishedAtMs ? formatTime(w.finishedAtMs) : null,
  };
}

function diffDto(d: DiffSummary) {
  return {
    session_id: d.sessionId,
    branch: d.branch,
    base_branch: d.baseBranch,
    base_commit: d.baseCommit,
    head_commit: d.headCommit,
    descends_from_base: d.descendsFromBase,
    files_changed: d.filesChanged,
    insertions: d.insertions,
    deletions: d.deletions,
    files: d.files.map((f) => ({ path: f.path, insertions: f.insertions, deletions: f.deletions, binary: f.binary })),
    commits: d.commits.map((c) => ({ sha: c.sha, subject: c.subject, author: c.author, date: c.date, files_changed: c.filesChanged })),
  };
}

export function registerSessionGitCommands(session: Command, ctx: CliContext): void {
  session
    .command('diff')
    .description("summarize the session branch against its pinned base commit")
    .argument('<id>', 'session id')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(WorkspaceServiceClient);
        const d = await call(conn, c.diff.bind(c), { sessionId: id }, 120_000);
        if (o.json) return printJson(diffDto(d));
        printLine(`${d.branch} vs ${d.baseBranch} @ ${d.baseCommit.slice(0, 12)}${d.descendsFromBase ? '' : '  (does NOT descend from the base commit)'}`);
        printLine(`${d.filesChanged} files changed, ${d.insertions} insertions(+), ${d.deletions} deletions(-), ${d.commits.length} commits`);
        if (d.files.length) {
          printLine();
          printTable(['+', '-', 'FILE'], d.files.map((f) => (f.binary ? ['bin', 'bin', f.path] : [String(f.insertions), String(f.deletions), f.path])));
        }
        if (d.commits.length) {
          printLine();
          for (const cm of d.commits) printLine(`${cm.sha.slice(0, 12)} ${cm.subject}`);
        }
      } finally {
        conn.close();
      }
    });

  session
    .command('branch')
    .description("show the session's branch, base and workspace")
    .argument('<id>', 'session id')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const conn = connectDaemon(ctx.globals());
      try {
        const c = conn.get(WorkspaceServiceClient);
        const w = await call(conn, c.getWorkspace.bind(c), { sessionId: id });
        if (o.json) return printJson(workspaceDto(w));
        printLine(w.branch);
        printLine(`  base:      ${w.baseBranch} @ ${w.baseCommit}`);
        printLine(`  brought back: ${w.headCommit || '(not yet)'}`);
        printLine(`  state:     ${w.state}`);
        printLine(`  workspace: ${w.path}`);
      } finally {
        conn.close();
      }
    });
}
