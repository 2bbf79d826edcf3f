// Diff summaries, computed in the project repository (after the session branch
// was fetched into a staging ref), never inside the agent's workspace.
// `--no-ext-diff --no-textconv`: the incoming tree's .gitattributes is the
// agent's, so no attribute may select a diff driver that runs a program.
import { inRepo, runGit } from './runner.js';

export interface FileChange {
  path: string;
  insertions: number;
  deletions: number;
  binary: boolean;
}

export interface CommitInfo {
  sha: string;
  subject: string;
  author: string;
  date: string;
  filesChanged: number;
}

export interface DiffSummary {
  sessionId: string;
  branch: string;
  baseBranch: string;
  baseCommit: string;
  headCommit: string;
  /** False when the session branch no longer descends from the pinned base commit. */
  descendsFromBase: boolean;
  filesChanged: number;
  insertions: number;
  deletions: number;
  files: FileChange[];
  /** Oldest first. */
  commits: CommitInfo[];
}

const MAX_COMMITS = 1000;

export async function computeSummary(
  repo: string,
  ids: { sessionId: string; branch: string; baseBranch: string; baseCommit: string },
  head: string,
): Promise<DiffSummary> {
  const numstat = await runGit(['diff', '--numstat', '--no-renames', '--no-ext-diff', '--no-textconv', ids.baseCommit, head, '--'], inRepo(repo));
  const files: FileChange[] = [];
  for (const line of numstat.stdout.split('\n')) {
    const m = /^(-|\d+)\t(-|\d+)\t(.*)$/.exec(line);
    if (!m) continue;
    const binary = m[1] === '-';
    files.push({ path: m[3]!, insertions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]), binary });
  }
  const log = await runGit(
    ['log', '--no-decorate', '--no-show-signature', '--no-ext-diff', '--no-textconv', '--no-renames', '--numstat', `--max-count=${MAX_COMMITS}`, '--format=%x1e%H%x1f%s%x1f%an%x1f%aI', `${ids.baseCommit}..${head}`, '--'],
    inRepo(repo),
  );
  const commits: CommitInfo[] = [];
  for (const chunk of log.stdout.split('\x1e')) {
    if (!chunk.trim()) continue;
    const [header, ...rest] = chunk.split('\n');
    const [sha, subject, author, date] = (header ?? '').split('\x1f');
    if (!sha) continue;
    commits.push({ sha, subject: subject ?? '', author: author ?? '', date: date ?? '', filesChanged: rest.filter((l) => /^(-|\d+)\t/.test(l)).length });
  }
  commits.reverse();
  const anc = await runGit(['merge-base', '--is-ancestor', ids.baseCommit, head], inRepo(repo, { okExitCodes: [1] }));
  return {
    ...ids,
    headCommit: head,
    descendsFromBase: anc.exitCode === 0,
    filesChanged: files.length,
    insertions: files.reduce((n, f) => n + f.insertions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    files,
    commits,
  };
}
