// gRPC adapter for WorkspaceService: authorizes, converts at the wire, audits.
// Business logic lives in ProjectRegistry / WorkspaceManager / AgentTrail.
//
// Authorization: projects are owner-scoped (grpc-registry.ts). Creating,
// finishing and opening PRs need `control`; reads need `read`. Workspaces are owned by the subject that created them; others
// (without `*`) get workspace_not_found, never a hint that it exists.
import type { Server } from '@grpc/grpc-js';
import { LokiError, SESSION_ID_RE } from '../../../common/src/index.js';
import * as pb from '../../../proto/gen/loki/v1/workspace.js';
import type { AuditLog } from '../audit/types.js';
import { fitEvent } from '../audit/format.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { ServiceModule } from '../grpc/module.js';
import { unary, type HandlerContext } from '../grpc/wrap.js';
import type { PrResult } from './pr.js';
import type { ProjectRegistry } from './projects.js';
import { ProjectAccess, registryHandlers, type AuditedPlan, type RegistryHandlerDeps } from './grpc-registry.js';
import type { DiffSummary } from './summary.js';
import type { AgentTrail } from './trail.js';
import type { Workspace, WorkspaceManager } from './workspaces.js';

export interface WorkspaceModuleDeps {
  projects: ProjectRegistry;
  workspaces: WorkspaceManager;
  trail: AgentTrail;
  audit: AuditLog;
  /** What the registry reads beyond projects and workspaces (learnings; sessions' tasks, when that feature runs). */
  stores: Pick<RegistryHandlerDeps, 'sessions' | 'learnings'>;
  /** Whether the sandbox image exists (for `projects health`); omitted = unknown. */
  imagePresent?: () => Promise<boolean>;
}

const MAX_LOG_ENTRIES = 10_000;

function workspaceToPb(w: Workspace): pb.Workspace {
  return {
    sessionId: w.sessionId,
    projectId: w.projectId,
    owner: w.owner,
    agent: w.agent,
    path: w.path,
    branch: w.branch,
    baseBranch: w.baseBranch,
    baseCommit: w.baseCommit,
    state: w.state,
    createdAtMs: w.createdAtMs,
    finishedAtMs: w.finishedAtMs ?? 0,
    headCommit: w.headCommit ?? '',
  };
}

function summaryToPb(s: DiffSummary): pb.DiffSummary {
  return { ...s, files: s.files.map((f) => ({ ...f })), commits: s.commits.map((c) => ({ ...c })), pullRequest: undefined };
}

function prToPb(r: PrResult): pb.PullRequestResult {
  return { opened: r.opened, url: r.url, reason: r.reason, commands: [...r.commands] };
}

function required(value: string, field: string): string {
  if (!value) throw new LokiError('invalid_argument', `${field} is required`);
  return value;
}

/** The result and reason an audit entry gives a refused or failed action. */
function refusal(err: unknown): { result: 'denied' | 'error'; reason: string } {
  const le = err instanceof LokiError ? err : undefined;
  return { result: le?.kind === 'permission_denied' ? 'denied' : 'error', reason: le?.message ?? 'internal error' };
}

export function createWorkspaceModule(deps: WorkspaceModuleDeps): ServiceModule {
  for (const k of ['projects', 'workspaces', 'trail', 'audit'] as const) {
    if (!deps[k]) throw new Error(`createWorkspaceModule needs ${k}`);
  }
  const { projects, workspaces, trail, audit } = deps;
  const access = new ProjectAccess(projects, workspaces.gitConfig);

  /** The caller's workspace, or not-found (same answer whether it is missing or someone else's). */
  async function ownWorkspace(caller: Caller, sessionId: string): Promise<Workspace> {
    const ws = await workspaces.get(required(sessionId, 'session_id'));
    if (!canAccessOwned(caller, ws.owner)) throw new LokiError('workspace_not_found', `no workspace for session "${sessionId}"`);
    return ws;
  }

  async function canSeeSession(caller: Caller, sessionId: string): Promise<boolean> {
    try {
      return canAccessOwned(caller, (await workspaces.get(sessionId)).owner);
    } catch {
      // a trail without a workspace record: only admins see it
      return canAccessOwned(caller, '');
    }
  }

  /** The sessions with a trail that the caller may see (as canSeeSession, with one read of the workspaces). */
  async function visibleTrails(caller: Caller): Promise<string[]> {
    const owners = new Map((await workspaces.list()).map((w) => [w.sessionId, w.owner]));
    return trail.sessions().filter((s) => canAccessOwned(caller, owners.get(s) ?? ''));
  }

  async function audited<T>(caller: Caller, action: string, resource: string, fn: () => Promise<T>, details: (r: T) => Record<string, unknown>): Promise<T> {
    const base = { action, user: caller.subject, resource, ip: caller.clientIp, request_id: caller.requestId };
    try {
      const r = await fn();
      // Paths and names here are the caller's text: fitted to the log's limits, never refused by them
      // (a refused record would leave the action unaudited and answer the caller with the audit's error).
      await audit.record(fitEvent({ ...base, result: 'success', details: details(r) }));
      return r;
    } catch (err) {
      await audit.record(fitEvent({ ...base, ...refusal(err) }));
      throw err;
    }
  }

  /**
   * Checked and audited before it takes effect: `plan` makes every check and says what will be done,
   * its entry is written, and only then does `effect` change anything. An entry that cannot be written
   * refuses the action with nothing changed (RUNBOOK "A full disk"); an effect that fails after its
   * entry, or that `undone` says was done only in part, gets a second entry saying what was not done.
   */
  const auditedPlan: AuditedPlan = async (caller, action, resource, plan, details, effect, undone) => {
    const planned = await audited(caller, action, resource, plan, details);
    const notDone = (result: 'denied' | 'error', reason: string) =>
      audit.record(fitEvent({ action, user: caller.subject, resource, ip: caller.clientIp, request_id: caller.requestId, result, reason: `not done: ${reason}` })).catch(() => undefined);
    const r = await effect(planned).catch(async (err: unknown) => {
      const why = refusal(err);
      await notDone(why.result, why.reason);
      throw err;
    });
    const part = undone?.(r);
    if (part) await notDone('error', part);
    return r;
  };

  return {
    name: 'loki.v1.WorkspaceService',
    roles: ['local-admin', 'gateway'],
    register(server: Server, ctx: HandlerContext) {
      const registry = registryHandlers(
        { projects, workspaces, config: workspaces.gitConfig, ...deps.stores, imagePresent: deps.imagePresent, auditedPlan },
        ctx,
      );
      const impl: pb.WorkspaceServiceServer = {
        ...registry.handlers,
        createWorkspace: unary(ctx, 'WorkspaceService/CreateWorkspace', async (req: pb.CreateWorkspaceRequest, caller) => {
          requireScope(caller, 'control');
          const sessionId = required(req.sessionId, 'session_id');
          // lokid makes its sessions' workspaces itself, as the session's owner. Through the
          // gateway, naming one of its session ids would squat it: the real start then fails,
          // and the squatter owns the workspace record that decides who reads that session's trail.
          if (caller.role !== 'local-admin' && SESSION_ID_RE.test(sessionId)) {
            throw new LokiError('permission_denied', `${sessionId} is a lokid session id: lokid creates its sessions' workspaces itself (choose another session_id)`);
          }
          // Linux pids never exceed PID_MAX_LIMIT (2^22); 0 means the daemon's own.
          if (!Number.isInteger(req.pid) || req.pid < 0 || req.pid > 4_194_304) throw new LokiError('invalid_argument', 'pid must be an integer between 0 and 4194304');
          // Audited before anything is made: a workspace the audit log cannot record is not cloned.
          const ws = await auditedPlan(
            caller,
            'workspace.create',
            `session:${sessionId}`,
            async () =>
              workspaces.planWorkspace({
                // Only a project the caller may see (its own or shared), as for sessions; others look missing.
                project: (await access.get(caller, required(req.project, 'project'))).id,
                sessionId,
                owner: caller.subject,
                ...(req.pid > 0 ? { pid: req.pid } : {}),
                ...(req.agent ? { agent: req.agent } : {}),
              }),
            (p) => ({ project: p.project.id, branch: p.branch, base_commit: p.baseCommit }),
            (p) => workspaces.makeWorkspace(p),
          );
          return workspaceToPb(ws);
        }),
        getWorkspace: unary(ctx, 'WorkspaceService/GetWorkspace', async (req: pb.GetWorkspaceRequest, caller) => {
          requireScope(caller, 'read');
          return workspaceToPb(await ownWorkspace(caller, req.sessionId));
        }),
        diff: unary(ctx, 'WorkspaceService/Diff', async (req: pb.DiffRequest, caller) => {
          requireScope(caller, 'read');
          const ws = await ownWorkspace(caller, req.sessionId);
          const pr = await workspaces.pullRequestOf(ws.sessionId);
          return { ...summaryToPb(await workspaces.diff(ws.sessionId)), ...(pr ? { pullRequest: prToPb(pr) } : {}) };
        }),
        finish: unary(ctx, 'WorkspaceService/Finish', async (req: pb.FinishRequest, caller) => {
          requireScope(caller, 'control');
          const ws = await ownWorkspace(caller, req.sessionId);
          const r = await audited(
            caller,
            'workspace.finish',
            `session:${ws.sessionId}`,
            () => workspaces.finish(ws.sessionId, req.openPr === undefined ? {} : { openPr: req.openPr }),
            (f) => ({ branch: f.bringBack.branch, commit: f.bringBack.commit, commits: f.summary.commits.length, pull_request: f.pullRequest.url || null }),
          );
          return { summary: summaryToPb(r.summary), bringBack: { ...r.bringBack }, pullRequest: prToPb(r.pullRequest), exportedTrail: r.exportedTrail };
        }),
        openPullRequest: unary(ctx, 'WorkspaceService/OpenPullRequest', async (req: pb.OpenPullRequestRequest, caller) => {
          requireScope(caller, 'control');
          const ws = await ownWorkspace(caller, req.sessionId);
          const r = await audited(caller, 'workspace.pull_request', `session:${ws.sessionId}`, () => workspaces.openPullRequest(ws.sessionId), (p) => ({
            opened: p.opened,
            url: p.url,
          }));
          return prToPb(r);
        }),
        auditLog: unary(ctx, 'WorkspaceService/AuditLog', async (req: pb.AgentAuditLogRequest, caller) => {
          requireScope(caller, 'read');
          const sessions = req.sessionId ? [await ownWorkspaceOrTrail(req.sessionId, caller)] : await visibleTrails(caller);
          const entries = sessions.flatMap((sid) =>
            trail.read(sid).map((e) => ({ sessionId: sid, timestamp: e.timestamp, seq: e.seq, action: e.action, agent: e.agent, detailsJson: JSON.stringify(e.details) })),
          );
          // Across sessions: interleave by time; within one session seq already orders them.
          if (!req.sessionId) entries.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.sessionId.localeCompare(b.sessionId) || a.seq - b.seq);
          const limit = req.limit > 0 ? Math.min(req.limit, MAX_LOG_ENTRIES) : MAX_LOG_ENTRIES;
          return { entries: entries.slice(-limit) };
        }),
        auditCount: unary(ctx, 'WorkspaceService/AuditCount', async (req: pb.AgentAuditCountRequest, caller) => {
          requireScope(caller, 'read');
          if (req.sessionId) return trail.count(await ownWorkspaceOrTrail(req.sessionId, caller));
          const total = { total: 0, byAction: {} as Record<string, number>, bySession: {} as Record<string, number> };
          for (const sid of await visibleTrails(caller)) {
            const c = trail.count(sid);
            total.total += c.total;
            total.bySession[sid] = c.total;
            for (const [a, n] of Object.entries(c.byAction)) total.byAction[a] = (total.byAction[a] ?? 0) + n;
          }
          return total;
        }),
        patch: unary(ctx, 'WorkspaceService/Patch', async (req: pb.DiffRequest, caller) => {
          requireScope(caller, 'read');
          const ws = await ownWorkspace(caller, req.sessionId);
          const p = await workspaces.patch(ws.sessionId);
          return { sessionId: ws.sessionId, baseCommit: p.baseCommit, headCommit: p.headCommit, patch: p.patch, truncated: p.truncated };
        }),
      };

      async function ownWorkspaceOrTrail(sessionId: string, caller: Caller): Promise<string> {
        if (!(await canSeeSession(caller, sessionId)) || trail.read(sessionId).length === 0) {
          throw new LokiError('workspace_not_found', `no agent audit trail for session "${sessionId}"`);
        }
        return sessionId;
      }

      server.addService(pb.WorkspaceServiceService, impl);
    },
  };
}
