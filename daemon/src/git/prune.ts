// `loki projects prune`: session branches left in a project repository that
// nobody needs any more — merged into the base branch, identical to where the
// session started, or belonging to a session the daemon no longer knows. Never
// a branch of an active session, never the checked-out branch; each deletion is
// a compare-and-swap on the commit that was reported.
import type { SessionDirectory } from '../sessions/repo.js';
import { inRepo, runGit } from './runner.js';
import type { Project } from './projects.js';
import { isSessionBranch } from './refs.js';
import type { Workspace } from './workspaces.js';

export type PruneReason = 'merged' | 'identical' | 'removed_session';

export interface PruneCandidate {
  branch: string;
  commit: string;
  reason: PruneReason;
  deleted: boolean;
  error: string;
}

export async function findPrunable(sessions: SessionDirectory | undefined, p: Project, workspaces: readonly Workspace[]): Promise<PruneCandidate[]> {
  const refs = (await runGit(['for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads/loki/'], inRepo(p.path))).stdout.split('\n').filter(Boolean);
  const base = (await runGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `refs/heads/${p.baseBranch}^{commit}`], inRepo(p.path, { okExitCodes: [1] }))).stdout.trim();
  const head = (await runGit(['symbolic-ref', '--quiet', 'HEAD'], inRepo(p.path, { okExitCodes: [1, 128] }))).stdout.trim();
  // Every session's workspace, not only this project's: two projects can share one ref store (a linked
  // worktree and its main repository) or carry each other's session branches (a clone that fetched them),
  // and a branch of a session the daemon knows is not an orphan, whichever project it was started on.
  // This project's own record wins when an older name (no random part) was used on two projects.
  const byBranch = new Map([...workspaces.filter((w) => w.projectId !== p.id), ...workspaces.filter((w) => w.projectId === p.id)].map((w) => [w.branch, w]));
  const out: PruneCandidate[] = [];
  for (const line of refs) {
    const [branch = '', commit = ''] = line.split(' ');
    if (!isSessionBranch(branch) || head === `refs/heads/${branch}`) continue;
    const ws = byBranch.get(branch);
    if (ws?.state === 'active') continue;
    let reason: PruneReason | undefined;
    // Without the sessions feature the workspace record is all there is.
    if (!ws || (sessions && !(await sessions.known(ws.sessionId)))) reason = 'removed_session';
    else if (commit === ws.baseCommit) reason = 'identical';
    else if (base && (await runGit(['merge-base', '--is-ancestor', commit, base], inRepo(p.path, { okExitCodes: [1] }))).exitCode === 0) reason = 'merged';
    if (reason) out.push({ branch, commit, reason, deleted: false, error: '' });
  }
  return out;
}

/** Deletes each candidate if its branch still points at the reported commit. */
export async function deleteBranches(p: Project, candidates: PruneCandidate[]): Promise<PruneCandidate[]> {
  for (const c of candidates) {
    try {
      await runGit(['update-ref', '-m', 'loki: prune session branch', '-d', `refs/heads/${c.branch}`, c.commit], inRepo(p.path));
      c.deleted = true;
    } catch {
      c.error = 'the branch moved or could not be deleted; run prune again';
    }
  }
  return candidates;
}
