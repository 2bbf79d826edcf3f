// Session workspaces: a private clone of a project per session, on the session
// branch `loki/session-<unix-timestamp>-<pid>-<random>`, and the one way work comes back:
// the daemon fetches that single branch from the workspace into the project
// repository (or pushes it to the project's remote). Nothing else the agent
// does in its workspace (other branches, tags, rewritten refs, config, hooks)
// can reach the project.
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LokiError, type Logger } from '../../../common/src/index.js';
import type { GitConfig } from './config.js';
import { ghCreatePr, ghReady, ghRepoFromUrl, manualPrCommands, prBody, prTitle, type PrResult } from './pr.js';
import { refExists, type Project, type ProjectRegistry } from './projects.js';
import type { Workspace, WorkspaceRepo } from './repo.js';
import { globToRegExp, isProtectedBranch, isSessionBranch, sessionBranchName, validateSessionId } from './refs.js';
import { GitCommandError, inRepo, runGit } from './runner.js';
import { computeSummary, type DiffSummary } from './summary.js';
import type { AgentTrail } from './trail.js';
import { checkWorkspaceGitDir, chownTree, claimDir, workspaceOwner } from './workspace-safety.js';
import { cloneWorkspace, type WorkspaceFill } from './workspace-fill.js';
import { branchTips } from './ref-read.js';

export type { Workspace, WorkspaceState } from './repo.js';

/** Patches beyond this are cut (the diff summary still counts every file). */
export const PATCH_MAX_BYTES = 4 * 1024 * 1024;

export interface SessionPatchResult {
  baseCommit: string;
  headCommit: string;
  patch: string;
  truncated: boolean;
}

export interface CreateWorkspaceInput {
  /** Project id or name. */
  project: string;
  sessionId: string;
  /** The session runner's pid; default the daemon's own pid (see docs/git-workflow.md). */
  pid?: number;
  /** Agent name recorded in the trail for commits (Loki Mode: `development`, …). */
  agent?: string;
  owner: string;
  /** Fills the workspace directory made ahead (a warm pool slot's volume) instead of cloning into a new one. */
  fill?: WorkspaceFill;
}

/** A checked workspace not made yet (WorkspaceManager.planWorkspace). */
export interface WorkspacePlan {
  readonly input: CreateWorkspaceInput;
  readonly sessionId: string;
  readonly project: Project;
  readonly agent: string;
  readonly branch: string;
  readonly baseCommit: string;
}

export interface BringBackResult {
  branch: string;
  commit: string;
  /** Previous value of the branch in the project repository, or empty when it was created. */
  previous: string;
  /** False when the branch already pointed at this commit. */
  updated: boolean;
}

export interface FinishResult {
  summary: DiffSummary;
  bringBack: BringBackResult;
  pullRequest: PrResult;
  /** Path of the exported read-only trail copy, or empty. */
  exportedTrail: string;
  /** Why the configured trail export was refused (the branch is back all the same). */
  exportRefused?: string;
}

export interface WorkspaceManagerOptions {
  repo: WorkspaceRepo;
  projects: ProjectRegistry;
  trail: AgentTrail;
  log: Logger;
  /** `$LOKI_HOME/workspaces`. */
  workspacesDir: string;
  config: GitConfig;
  /** Environment for PATH/HOME lookups (git, gh); default process.env. */
  env?: NodeJS.ProcessEnv;
  clock?: () => number;
  /** The random part of session branch names (8 hex digits); default 32 random bits. Tests pin it to plant a collision. */
  branchRandom?: () => string;
}

function taken(what: 'session' | 'branch' | 'project', sessionId: string, branch: string, project = ''): LokiError {
  if (what === 'session') return new LokiError('conflict', `session "${sessionId}" already has a workspace`);
  if (what === 'project') return new LokiError('project_not_found', `project "${project}" was removed while the workspace for session "${sessionId}" was being made`);
  return new LokiError('ref_exists', `branch "${branch}" already exists; a random part collided or the branch was made by hand`);
}

function summaryIds(ws: Workspace): { sessionId: string; branch: string; baseBranch: string; baseCommit: string } {
  return { sessionId: ws.sessionId, branch: ws.branch, baseBranch: ws.baseBranch, baseCommit: ws.baseCommit };
}

export class WorkspaceManager {
  private readonly o: Required<Omit<WorkspaceManagerOptions, 'log'>> & { log: Logger };

  constructor(opts: WorkspaceManagerOptions) {
    for (const k of ['repo', 'projects', 'trail', 'log', 'workspacesDir', 'config'] as const) {
      if (!opts[k]) throw new Error(`WorkspaceManager needs ${k}`);
    }
    this.o = { env: process.env, clock: Date.now, branchRandom: () => randomBytes(4).toString('hex'), ...opts, log: opts.log.child({ component: 'workspaces' }) };
  }

  get gitConfig(): GitConfig {
    return this.o.config;
  }

  /** The last pull-request attempt of a session, or null before any. */
  pullRequestOf(sessionId: string): Promise<PrResult | null> {
    return this.o.repo.pullRequestOf(validateSessionId(sessionId));
  }

  async get(sessionId: string): Promise<Workspace> {
    const ws = await this.o.repo.get(validateSessionId(sessionId));
    if (!ws) throw new LokiError('workspace_not_found', `no workspace for session "${sessionId}"`);
    return ws;
  }

  list(): Promise<Workspace[]> {
    return this.o.repo.list();
  }

  private protectedPatterns(project: Project): string[] {
    return [...this.o.config.protected_branches, ...project.protectedBranches, project.baseBranch];
  }

  /** Refuses any ref the daemon would write that is not a session branch or is protected. */
  private assertWritable(project: Project, branch: string): void {
    if (!isSessionBranch(branch)) throw new LokiError('protected_ref', `Loki only ever writes session branches (loki/session-…), not "${branch}"`);
    if (this.o.config.branch_protection && isProtectedBranch(branch, this.protectedPatterns(project))) {
      throw new LokiError('protected_ref', `branch "${branch}" is protected in project "${project.name}"; Loki never updates it`);
    }
  }

  async createWorkspace(input: CreateWorkspaceInput): Promise<Workspace> {
    return this.makeWorkspace(await this.planWorkspace(input));
  }

  /**
   * Every check of a new workspace and what it will be (project, branch, base commit), with
   * nothing made yet: the external workspace API audits this plan before `makeWorkspace`.
   */
  async planWorkspace(input: CreateWorkspaceInput): Promise<WorkspacePlan> {
    const sessionId = validateSessionId(input.sessionId);
    const project = await this.o.projects.get(input.project);
    const agent = input.agent ?? 'development';
    if (await this.o.repo.get(sessionId)) throw taken('session', sessionId, '');
    const branch = sessionBranchName(Math.floor(this.o.clock() / 1000), input.pid ?? process.pid, this.o.branchRandom());
    this.assertWritable(project, branch);
    if (await this.o.repo.branchTaken(branch)) throw taken('branch', sessionId, branch);
    // Both answers from one read of the project's refs (no git process on the way to a warm start).
    const tips = await branchTips(project.path, [project.baseBranch, branch]);
    if (tips.get(branch)) throw taken('branch', sessionId, branch);
    const baseCommit = tips.get(project.baseBranch);
    if (!baseCommit) {
      throw new LokiError('base_branch_missing', `base branch "${project.baseBranch}" no longer exists in ${project.path}`);
    }
    return { input, sessionId, project, agent, branch, baseCommit };
  }

  /** Clones (or fills) and records the workspace `plan` describes; the branch and insert are re-checked atomically. */
  async makeWorkspace(plan: WorkspacePlan): Promise<Workspace> {
    const { input, sessionId, project, agent, branch, baseCommit } = plan;
    mkdirSync(this.o.workspacesDir, { recursive: true, mode: 0o700 });
    const dest = join(this.o.workspacesDir, sessionId);
    // A directory made ahead for this session (a warm pool slot's volume) is filled where it is, if still empty.
    const ahead = input.fill?.dest === dest && readdirSync(dest).length === 0;
    if (!ahead && !claimDir(dest)) throw new LokiError('conflict', `workspace directory ${dest} already exists`);
    try {
      const target = { projectId: project.id, projectPath: project.path, baseBranch: project.baseBranch, baseCommit, branch, dest };
      if (!(await input.fill?.fill(target))) await cloneWorkspace(target, ['-b', branch]);
      const owner = workspaceOwner(this.o.config);
      if (owner) chownTree(dest, owner.uid, owner.gid);
      // The checks above were early answers; this one is atomic (two sessions racing for one branch).
      const t = await this.o.repo.insertUnlessTaken({ sessionId, projectId: project.id, owner: input.owner, agent, path: dest, branch, baseBranch: project.baseBranch, baseCommit, createdAtMs: this.o.clock() });
      if (t) throw taken(t, sessionId, branch, project.name);
    } catch (err) {
      await input.fill?.undo(dest);
      rmSync(dest, { recursive: true, force: true });
      throw err;
    }
    this.o.trail.append(sessionId, {
      action: 'workspace_create',
      agent: 'loki',
      details: { project: project.name, branch, base_branch: project.baseBranch, base_commit: baseCommit },
    });
    this.o.log.info({ session_id: sessionId, project: project.id, branch, base_commit: baseCommit }, 'workspace created');
    return this.get(sessionId);
  }

  /**
   * Fetches exactly the session branch from the workspace into a daemon-private
   * staging ref of the project repo. The workspace is only read by upload-pack
   * under the hardened config; its refs other than the session branch are never asked for.
   */
  private async fetchSession(ws: Workspace): Promise<{ project: Project; staging: string; head: string }> {
    const project = await this.o.projects.get(ws.projectId);
    const gitDir = checkWorkspaceGitDir(ws.path);
    // Unique per call, so two concurrent reads of one session never share a staging ref.
    const staging = `refs/loki/incoming/${ws.sessionId}-${randomBytes(6).toString('hex')}`;
    const into = inRepo(project.path, { safeDirectories: [gitDir], config: ['fetch.fsckObjects=true'] });
    // A project another user owns is fetched into as that user, who cannot reach the
    // workspace (the daemon's home is 0700). The daemon packs the session branch into a
    // bundle itself (reading the checked workspace as it would for its own project) and
    // hands the owner only that file.
    const handoff = into.runAs ? await bundleFor(gitDir, ws.branch, into.runAs) : undefined;
    try {
      await runGit(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', handoff?.file ?? gitDir, `+refs/heads/${ws.branch}:${staging}`], into);
    } catch (err) {
      if (err instanceof GitCommandError && /couldn't find remote ref/i.test(err.stderr)) {
        throw new LokiError('failed_precondition', `the session branch ${ws.branch} no longer exists in the workspace`);
      }
      if (err instanceof GitCommandError) {
        throw new LokiError('unsafe_workspace', `could not read the session branch from the workspace: ${err.stderr.trim().split('\n').pop() ?? ''}`, { cause: err });
      }
      throw err;
    } finally {
      handoff?.remove();
    }
    const head = (await runGit(['rev-parse', '--verify', `${staging}^{commit}`], inRepo(project.path))).stdout.trim();
    return { project, staging, head };
  }

  private async dropStaging(project: Project, staging: string): Promise<void> {
    await runGit(['update-ref', '-d', staging], inRepo(project.path));
  }

  /** Files changed, insertions, deletions and commits of the session branch against its pinned base. */
  async diff(sessionId: string): Promise<DiffSummary> {
    const ws = await this.get(sessionId);
    const { project, staging, head } = await this.fetchSession(ws);
    try {
      return await computeSummary(project.path, summaryIds(ws), head);
    } finally {
      await this.dropStaging(project, staging);
    }
  }

  /**
   * The unified patch of the session branch against its pinned base commit,
   * computed in the project repository (never inside the agent's workspace),
   * cut at a line boundary once it exceeds `maxBytes`.
   */
  async patch(sessionId: string, maxBytes = PATCH_MAX_BYTES): Promise<SessionPatchResult> {
    const ws = await this.get(sessionId);
    const { project, staging, head } = await this.fetchSession(ws);
    try {
      const r = await runGit(['diff', '--no-color', '--no-ext-diff', '--no-textconv', '--no-renames', ws.baseCommit, head, '--'], inRepo(project.path));
      const full = Buffer.from(r.stdout, 'utf8');
      if (full.length <= maxBytes) return { baseCommit: ws.baseCommit, headCommit: head, patch: r.stdout, truncated: false };
      const cut = full.subarray(0, maxBytes);
      const nl = cut.lastIndexOf(0x0a);
      return { baseCommit: ws.baseCommit, headCommit: head, patch: cut.subarray(0, nl >= 0 ? nl + 1 : 0).toString('utf8'), truncated: true };
    } finally {
      await this.dropStaging(project, staging);
    }
  }

  /** Brings the session branch back into the project repository as `refs/heads/loki/session-…`. */
  async bringBack(sessionId: string): Promise<BringBackResult> {
    const ws = await this.get(sessionId);
    const { project, staging, head } = await this.fetchSession(ws);
    try {
      return await this.updateSessionRef(ws, project, head);
    } finally {
      await this.dropStaging(project, staging);
    }
  }

  private async updateSessionRef(ws: Workspace, project: Project, head: string): Promise<BringBackResult> {
    this.assertWritable(project, ws.branch);
    const ref = `refs/heads/${ws.branch}`;
    const cur = await runGit(['symbolic-ref', '--quiet', 'HEAD'], inRepo(project.path, { okExitCodes: [1, 128] }));
    if (cur.stdout.trim() === ref) {
      throw new LokiError('failed_precondition', `${ws.branch} is checked out in ${project.path}; switch to another branch before bringing the session back`);
    }
    const old = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], inRepo(project.path, { okExitCodes: [1] }));
    const previous = old.exitCode === 0 ? old.stdout.trim() : '';
    if (previous === head) return { branch: ws.branch, commit: head, previous, updated: false };
    if (previous && !this.o.config.allow_non_fast_forward) {
      const ff = await runGit(['merge-base', '--is-ancestor', previous, head], inRepo(project.path, { okExitCodes: [1] }));
      if (ff.exitCode !== 0) {
        throw new LokiError('non_fast_forward', `${ws.branch} in the project is at ${previous.slice(0, 12)}, which the workspace branch no longer contains (history rewritten); refusing a non-fast-forward update`);
      }
    }
    // Compare-and-swap against what we just read (all zeros = must not exist yet).
    const expected = previous || '0'.repeat(head.length);
    try {
      await runGit(['update-ref', '-m', `loki: bring back session ${ws.sessionId}`, ref, head, expected], inRepo(project.path));
    } catch (err) {
      throw new LokiError('conflict', `${ws.branch} changed in the project repository while it was being updated; retry`, { cause: err });
    }
    await this.o.repo.setHead(ws.sessionId, head);
    this.o.log.info({ session_id: ws.sessionId, branch: ws.branch, commit: head, previous }, 'session branch brought back');
    return { branch: ws.branch, commit: head, previous, updated: true };
  }

  /** Pushes the brought-back session branch to the project's remote: one ref, never forced, never a protected name. */
  async pushToRemote(sessionId: string): Promise<{ remote: string; ref: string }> {
    const ws = await this.get(sessionId);
    const project = await this.o.projects.get(ws.projectId);
    if (!project.remote) throw new LokiError('no_remote', `project "${project.name}" has no git remote`);
    this.assertWritable(project, ws.branch);
    const ref = `refs/heads/${ws.branch}`;
    if (!(await refExists(project.path, ref))) throw new LokiError('failed_precondition', `${ws.branch} has not been brought back into the project yet`);
    if (!this.o.config.allow_protected_path_push) await this.assertNoProtectedPaths(project.path, ws.baseCommit, ref, ws.branch);
    try {
      await runGit(['push', '--quiet', '--porcelain', '--no-verify', '--no-follow-tags', '--no-recurse-submodules', project.remote, `${ref}:${ref}`], inRepo(project.path, { allowCredentials: true }));
    } catch (err) {
      if (err instanceof GitCommandError && /non-fast-forward|fetch first|rejected/i.test(err.stderr + err.message)) {
        throw new LokiError('non_fast_forward', `the remote "${project.remote}" refused ${ws.branch} (not a fast-forward)`);
      }
      if (err instanceof GitCommandError) throw new LokiError('unavailable', `push to "${project.remote}" failed: ${err.stderr.trim().split('\n').pop() ?? ''}`, { cause: err });
      throw err;
    }
    this.o.trail.append(sessionId, { action: 'branch_push', agent: 'loki', details: { remote: project.remote, branch: ws.branch } });
    return { remote: project.remote, ref };
  }

  /**
   * A pushed workflow change runs with the repository's CI secrets, so a branch
   * that touches a push-protected path (however the agent spelled the change:
   * cp, mv, git mv, tar…) stays local until a human reviews and pushes it.
   */
  private async assertNoProtectedPaths(repo: string, base: string, ref: string, branch: string): Promise<void> {
    const res = await runGit(['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--no-textconv', base, ref, '--'], inRepo(repo));
    const patterns = this.o.config.push_protected_paths.map((p) => globToRegExp(p));
    const hits = res.stdout.split('\0').filter((f) => f && patterns.some((re) => re.test(f)));
    if (hits.length) {
      throw new LokiError(
        'protected_path',
        `${branch} changes ${hits.slice(0, 5).join(', ')}${hits.length > 5 ? ` and ${hits.length - 5} more` : ''} (git.push_protected_paths); review it and push it yourself, or set git.allow_protected_path_push`,
      );
    }
  }

  private prRequest(ws: Workspace, project: Project, sum: DiffSummary) {
    const title = prTitle(ws.sessionId, sum.commits);
    return { projectPath: project.path, remote: project.remote, baseBranch: ws.baseBranch, branch: ws.branch, title, body: prBody(sum, this.o.trail.count(ws.sessionId)) };
  }

  /** Pushes the session branch and opens a PR with gh; otherwise returns the commands to do it by hand. */
  async openPullRequest(sessionId: string, summary?: DiffSummary): Promise<PrResult> {
    const ws = await this.get(sessionId);
    const project = await this.o.projects.get(ws.projectId);
    const sum = summary ?? (await this.diff(sessionId));
    const req = this.prRequest(ws, project, sum);
    const commands = manualPrCommands(req);
    const refuse = (reason: string, cmds = commands) => this.o.repo.savePullRequest(sessionId, { opened: false, url: '', reason, commands: cmds });
    // No commits: nothing to push, so no commands either.
    if (!sum.commits.length) return refuse('the session made no commits: there is nothing to open a pull request for', []);
    if (!project.remote) return refuse(`project "${project.name}" has no git remote`);
    const gh = await ghReady({ ghPath: this.o.config.gh_path, env: this.o.env }, project.path);
    if (!gh.path) return refuse(gh.reason ?? 'gh unavailable');
    try {
      await this.pushToRemote(sessionId);
    } catch (err) {
      if (err instanceof LokiError) return refuse(`push refused: ${err.message}`);
      throw err;
    }
    const url = await runGit(['remote', 'get-url', '--', project.remote], inRepo(project.path, { okExitCodes: [2, 128] }));
    const ghRepo = url.exitCode === 0 ? ghRepoFromUrl(url.stdout.trim()) : undefined;
    const res = await ghCreatePr(gh.path, { ...req, ...(ghRepo ? { ghRepo } : {}) }, this.o.env);
    this.o.trail.append(sessionId, {
      action: 'pull_request',
      agent: 'loki',
      details: { opened: res.opened, url: res.url, base: ws.baseBranch, head: ws.branch, ...(res.reason ? { reason: res.reason } : {}) },
    });
    return this.o.repo.savePullRequest(sessionId, res);
  }

  /** End of session: summarize, log new commits in the trail, bring the branch back, optionally open a PR and export the trail. */
  async finish(sessionId: string, opts: { openPr?: boolean } = {}): Promise<FinishResult> {
    const ws = await this.get(sessionId);
    try {
      return await this.bringBackAndSummarize(ws, opts);
    } finally {
      // The session has ended whether or not its branch could be brought back (an agent can make that
      // impossible, e.g. with an alternates file): its workspace is no longer active, or it would block
      // `loki projects remove` for good and keep prune away from its branch.
      await this.o.repo.finish(sessionId, this.o.clock());
    }
  }

  private async bringBackAndSummarize(ws: Workspace, opts: { openPr?: boolean }): Promise<FinishResult> {
    const sessionId = ws.sessionId;
    const { project, staging, head } = await this.fetchSession(ws);
    let summary: DiffSummary;
    let bringBack: BringBackResult;
    let noBranch = false;
    try {
      summary = await computeSummary(project.path, summaryIds(ws), head);
      // No agent commit, nothing to review: no branch is left in the project (unless an earlier bring-back made one).
      noBranch = head === ws.baseCommit && !(await refExists(project.path, `refs/heads/${ws.branch}`));
      bringBack = noBranch ? { branch: ws.branch, commit: head, previous: '', updated: false } : await this.updateSessionRef(ws, project, head);
    } finally {
      await this.dropStaging(project, staging);
    }
    const logged = new Set(this.o.trail.read(sessionId).filter((e) => e.action === 'git_commit').map((e) => e.details.sha));
    for (const c of summary.commits) {
      if (logged.has(c.sha)) continue;
      this.o.trail.append(sessionId, { action: 'git_commit', agent: ws.agent, details: { sha: c.sha, message: c.subject, files_changed: c.filesChanged } });
    }
    this.o.trail.append(sessionId, {
      action: 'branch_bring_back',
      agent: 'loki',
      details: { branch: ws.branch, commit: head, previous: bringBack.previous, files_changed: summary.filesChanged, insertions: summary.insertions, deletions: summary.deletions },
    });
    const manual = (reason: string): PrResult => ({ opened: false, url: '', reason, commands: manualPrCommands(this.prRequest(ws, project, summary)) });
    let pullRequest: PrResult;
    // Nothing to push: no commands either (they would name a branch that does not exist).
    if (noBranch) pullRequest = { opened: false, url: '', reason: 'the session made no commits: no branch was created and there is nothing to open a pull request for', commands: [] };
    else if (!(opts.openPr ?? this.o.config.auto_pr)) pullRequest = manual('opening pull requests is opt-in (LOKI_AUTO_PR=true or git.auto_pr)');
    else {
      // The branch is already safely back in the project; a failed push or PR must not undo that.
      try {
        pullRequest = await this.openPullRequest(sessionId, summary);
      } catch (err) {
        if (!(err instanceof LokiError)) throw err;
        pullRequest = manual(err.message);
      }
    }
    await this.o.repo.savePullRequest(sessionId, pullRequest);
    this.o.trail.append(sessionId, { action: 'session_finish', agent: 'loki', details: { commits: summary.commits.length, pull_request: pullRequest.url || null } });
    if (!this.o.config.export_agent_audit) return { summary, bringBack, pullRequest, exportedTrail: '' };
    // The branch is back and the PR step done: a copy the project's files refuse (a link, a directory
    // of another user's) is reported, not turned into a failed bring-back.
    try {
      return { summary, bringBack, pullRequest, exportedTrail: await this.o.trail.exportTo(sessionId, project.path) };
    } catch (err) {
      if (!(err instanceof LokiError)) throw err;
      this.o.log.warn({ session_id: sessionId, err: err.message }, 'agent audit trail not exported');
      return { summary, bringBack, pullRequest, exportedTrail: '', exportRefused: err.message };
    }
  }

  /**
   * A start that died while cloning (after the directory was claimed, before the workspace was recorded)
   * left a partial clone nothing refers to: deleted. A directory with a record, or one that is a mount
   * point (a warm pool slot's volume, which the pool frees itself), is left alone.
   */
  async discardUnrecorded(sessionId: string): Promise<boolean> {
    const id = validateSessionId(sessionId);
    if (await this.o.repo.get(id)) return false;
    const dir = join(this.o.workspacesDir, id);
    if (!existsSync(dir) || statSync(dir).dev !== statSync(this.o.workspacesDir).dev) return false;
    rmSync(dir, { recursive: true, force: true });
    this.o.log.warn({ session_id: id }, 'removed a workspace directory a start cut off by a restart had left unrecorded');
    return true;
  }

  /** Deletes the workspace directory (after the sandbox is gone); the record and trail stay. */
  async removeWorkspaceDir(sessionId: string): Promise<void> {
    const ws = await this.get(sessionId);
    rmSync(ws.path, { recursive: true, force: true });
  }
}

/**
 * The session branch as a bundle file only `owner` can read: a private directory of theirs
 * under the daemon's temp dir. The workspace is read by the daemon under the hardened
 * config, after checkWorkspaceGitDir, exactly as a fetch into a root-owned project reads it.
 */
async function bundleFor(gitDir: string, branch: string, owner: { uid: number; gid: number }): Promise<{ file: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'loki-bundle-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const file = join(dir, 'session.bundle');
    try {
      await runGit(['--git-dir', gitDir, 'bundle', 'create', '--quiet', file, `refs/heads/${branch}`], { safeDirectories: [gitDir] });
    } catch (err) {
      if (err instanceof GitCommandError && /couldn't find remote ref|bad revision|unknown revision|empty bundle/i.test(err.stderr)) {
        throw new LokiError('failed_precondition', `the session branch ${branch} no longer exists in the workspace`);
      }
      throw err;
    }
    chmodSync(file, 0o600);
    chownSync(file, owner.uid, owner.gid);
    chownSync(dir, owner.uid, owner.gid);
    return { file, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
