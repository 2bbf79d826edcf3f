// What the git feature keeps: registered projects and per-session workspaces.
// The SQLite implementations are store/sqlite/projects.ts and workspaces.ts.
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
  find(idOrName: string): Project | undefined;
  byPath(path: string): Project | undefined;
  /** A project already holding one of these names (as name or alias) or this path. */
  clash(name: string, alias: string | null, path: string): Pick<Project, 'name' | 'path'> | undefined;
  insert(p: Project): void;
  /** By name. */
  list(): Project[];
  delete(id: string): void;
}

export interface WorkspaceRepo {
  get(sessionId: string): Workspace | undefined;
  /** Oldest first. */
  list(): Workspace[];
  branchTaken(branch: string): boolean;
  insert(ws: Omit<Workspace, 'state' | 'finishedAtMs' | 'headCommit'>): void;
  setHead(sessionId: string, commit: string): void;
  finish(sessionId: string, atMs: number): void;
  /** The last pull-request attempt, or null before any. */
  pullRequestOf(sessionId: string): PrResult | null;
  /** Records the attempt and returns it. */
  savePullRequest(sessionId: string, pr: PrResult): PrResult;
}
