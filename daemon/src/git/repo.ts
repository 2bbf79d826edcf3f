// What the git feature keeps: registered projects and per-session workspaces.
// The SQLite implementations are store/sqlite/projects.ts and workspaces.ts.
// Async: the seam a networked store plugs into. A check and the write it guards
// are one method (one transaction), never two calls a concurrent caller could split.
import type { PrResult } from './pr.js';
import type { Project } from './projects.js';

export type WorkspaceState = 'active' | 'finished';

export interface Workspace {
  sessionId: string;
  projectId: string;
  owner: string;
  agent: string;
  /** Host directory bind-mounted into the sandbox at /workspace. */
  path: string;
  branch: string;
  baseBranch: string;
  baseCommit: string;
  state: WorkspaceState;
  createdAtMs: number;
  finishedAtMs: number | null;
  /** Commit last brought back into the project repository, if any. */
  headCommit: string | null;
}

export interface ProjectRepo {
  /** By id, name or alias. */
  find(idOrName: string): Promise<Project | undefined>;
  byPath(path: string): Promise<Project | undefined>;
  /**
   * Inserts unless a project already holds one of its names (as name or alias) or its
   * path; the check and the insert are one transaction. Returns that project, or
   * undefined when `p` was inserted.
   */
  insertUnlessClash(p: Project): Promise<Project | undefined>;
  /** By name. */
  list(): Promise<Project[]>;
  /**
   * Deletes unless a session workspace of the project is active; the check and the delete are
   * one transaction (a workspace inserted meanwhile keeps its project). Returns how many
   * active workspaces kept it (0: deleted), or undefined when there was no such project to
   * delete (another removal deleted it meanwhile).
   */
  deleteUnlessActive(id: string): Promise<number | undefined>;
}

export interface WorkspaceRepo {
  get(sessionId: string): Promise<Workspace | undefined>;
  /** Oldest first. */
  list(): Promise<Workspace[]>;
  branchTaken(branch: string): Promise<boolean>;
  /**
   * Inserts (state active) unless the session already has a workspace, another holds the
   * branch, or the project is no longer registered (removed while the workspace was being
   * made); the checks and the insert are one transaction. Returns what stopped it, or
   * undefined when the workspace was inserted.
   */
  insertUnlessTaken(ws: Omit<Workspace, 'state' | 'finishedAtMs' | 'headCommit'>): Promise<'session' | 'branch' | 'project' | undefined>;
  setHead(sessionId: string, commit: string): Promise<void>;
  finish(sessionId: string, atMs: number): Promise<void>;
  /** The last pull-request attempt, or null before any. */
  pullRequestOf(sessionId: string): Promise<PrResult | null>;
  /** Records the attempt and returns it. */
  savePullRequest(sessionId: string, pr: PrResult): Promise<PrResult>;
}
