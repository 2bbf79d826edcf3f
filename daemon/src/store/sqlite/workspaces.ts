// WorkspaceRepo on SQLite: one `git_workspaces` row per session workspace.
// Synchronous inside; `async` only to meet the (networked-store-ready) interface.
import type { Statement } from 'better-sqlite3';
import type { PrResult } from '../../git/pr.js';
import type { Workspace, WorkspaceRepo, WorkspaceState } from '../../git/repo.js';
import type { Db } from '../db.js';

interface Row {
  session_id: string;
  project_id: string;
  owner: string;
  agent: string;
  path: string;
  branch: string;
  base_branch: string;
  base_commit: string;
  state: WorkspaceState;
  created_at: number;
  finished_at: number | null;
  head_commit: string | null;
}

function toWorkspace(r: Row): Workspace {
  return {
    sessionId: r.session_id,
    projectId: r.project_id,
    owner: r.owner,
    agent: r.agent,
    path: r.path,
    branch: r.branch,
    baseBranch: r.base_branch,
    baseCommit: r.base_commit,
    state: r.state,
    createdAtMs: r.created_at,
    finishedAtMs: r.finished_at,
    headCommit: r.head_commit,
  };
}

export class SqliteWorkspaceRepo implements WorkspaceRepo {
  private readonly q: Record<'get' | 'list' | 'branch' | 'project' | 'insert' | 'head' | 'finish' | 'pr' | 'savePr', Statement>;

  constructor(private readonly db: Db) {
    this.q = {
      get: db.prepare('SELECT * FROM git_workspaces WHERE session_id = ?'),
      list: db.prepare('SELECT * FROM git_workspaces ORDER BY created_at'),
      branch: db.prepare('SELECT 1 FROM git_workspaces WHERE branch = ?'),
      project: db.prepare('SELECT 1 FROM projects WHERE id = ?'),
      insert: db.prepare(
        `INSERT INTO git_workspaces (session_id, project_id, owner, agent, path, branch, base_branch, base_commit, state, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)`,
      ),
      head: db.prepare('UPDATE git_workspaces SET head_commit = ? WHERE session_id = ?'),
      finish: db.prepare("UPDATE git_workspaces SET state = 'finished', finished_at = ? WHERE session_id = ?"),
      pr: db.prepare('SELECT pull_request FROM git_workspaces WHERE session_id = ?'),
      savePr: db.prepare('UPDATE git_workspaces SET pull_request = ? WHERE session_id = ?'),
    };
  }

  async get(sessionId: string): Promise<Workspace | undefined> {
    const r = this.q.get.get(sessionId) as Row | undefined;
    return r ? toWorkspace(r) : undefined;
  }

  async list(): Promise<Workspace[]> {
    return (this.q.list.all() as Row[]).map(toWorkspace);
  }

  async branchTaken(branch: string): Promise<boolean> {
    return this.q.branch.get(branch) !== undefined;
  }

  // One transaction: two workspaces racing for one session or one branch cannot both be inserted.
  async insertUnlessTaken(w: Omit<Workspace, 'state' | 'finishedAtMs' | 'headCommit'>): Promise<'session' | 'branch' | 'project' | undefined> {
    return this.db.transaction((): 'session' | 'branch' | 'project' | undefined => {
      if (this.q.get.get(w.sessionId) !== undefined) return 'session';
      if (this.q.branch.get(w.branch) !== undefined) return 'branch';
      if (this.q.project.get(w.projectId) === undefined) return 'project';
      this.q.insert.run(w.sessionId, w.projectId, w.owner, w.agent, w.path, w.branch, w.baseBranch, w.baseCommit, w.createdAtMs);
      return undefined;
    })();
  }

  async setHead(sessionId: string, commit: string): Promise<void> {
    this.q.head.run(commit, sessionId);
  }

  async finish(sessionId: string, atMs: number): Promise<void> {
    this.q.finish.run(atMs, sessionId);
  }

  async pullRequestOf(sessionId: string): Promise<PrResult | null> {
    const r = this.q.pr.get(sessionId) as { pull_request: string | null } | undefined;
    return r?.pull_request ? (JSON.parse(r.pull_request) as PrResult) : null;
  }

  async savePullRequest(sessionId: string, pr: PrResult): Promise<PrResult> {
    this.q.savePr.run(JSON.stringify(pr), sessionId);
    return pr;
  }
}
