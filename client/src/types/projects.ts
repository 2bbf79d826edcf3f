// Projects and the registry: tasks and learnings across projects (client/src/types.ts re-exports these).
import type { TaskStatus, Timestamp } from './common.js';

export interface Project {
  id: string;
  name: string;
  /** Real path of the repository top level on the daemon's host. */
  path: string;
  base_branch: string;
  remote: string | null;
  protected_branches: string[];
  registered_by: string;
  registered_at: Timestamp | null;
  /** A second name the project answers to, or null. */
  alias: string | null;
  /** Visible to every reader by the daemon's configuration (git.shared_projects). */
  shared: boolean;
}

export interface RegisterProjectInput {
  /** Absolute path (on the daemon's host) of a non-bare repository's top level. */
  path: string;
  name?: string;
  alias?: string;
  base_branch?: string;
  remote?: string;
  protected_branches?: string[];
}

export interface DiscoverInput {
  /** Absolute paths on the daemon's host; empty = the daemon's git.registry_roots. */
  roots?: string[];
  /** Directory levels below each root (default 3, at most 8). */
  depth?: number;
  /** Register every repository found that is not registered yet. */
  register?: boolean;
}

export interface DiscoveredRepo {
  path: string;
  root: string;
  /** Set when the repository is (or was just) a project the caller sees. */
  project_id: string | null;
  project_name: string | null;
  /** Why registering it failed. */
  error: string | null;
}

export interface DiscoverResult {
  repos: DiscoveredRepo[];
  /** Symlinks met on the walk; they are never followed. */
  skipped_symlinks: string[];
  truncated: boolean;
}

export type HealthStatus = 'ok' | 'warn' | 'fail';

export interface ProjectHealth {
  project: Project;
  status: HealthStatus;
  /** repo_readable, base_branch, working_tree, remote, last_session, sandbox_image. */
  checks: { name: string; status: HealthStatus; detail: string }[];
}

export interface ProjectSync {
  project_id: string;
  project_name: string;
  branches: number;
  last_commit: string | null;
  last_commit_subject: string | null;
  last_commit_at: Timestamp | null;
  /** `loki/session-*` branches still in the project. */
  session_branches: string[];
  error: string | null;
}

export interface PruneBranchesResult {
  /** True unless `yes` was given: nothing was deleted. */
  dry_run: boolean;
  projects: {
    project_id: string;
    project_name: string;
    /** Session branches that are merged, identical to their base, or of sessions the daemon no longer knows. */
    branches: { branch: string; commit: string; reason: 'merged' | 'identical' | 'removed_session'; deleted: boolean; error: string | null }[];
    error: string | null;
  }[];
}

export interface RegistryTask {
  session_id: string;
  task_id: string;
  status: TaskStatus;
  project_id: string;
  project_name: string;
  owner: string;
  session_state: string;
  session_created_at: Timestamp | null;
}

export interface Learning {
  id: number;
  session_id: string;
  project_id: string;
  project_name: string;
  text: string;
  tags: string[];
  created_at: Timestamp | null;
  /** Search only: `phrase` (the exact phrase occurs) ranks before `terms` (every term occurs). */
  match: 'phrase' | 'terms' | null;
}

export interface LearningsQuery {
  /** Project id, name or alias. */
  project?: string;
  limit?: number;
}

export interface ListTasksQuery {
  status?: TaskStatus;
  /** Project id, name or alias. */
  project?: string;
  limit?: number;
}
