// gRPC adapter for loki.v1.PolicyService: converts wire messages to domain
// calls, authorizes each call (scope + session ownership) and never lets a
// request body pick who decided. Mounted on the admin and gateway listeners;
// the agent reaches Decide through the agent API, which calls PolicyService.
import type { Server, ServerWritableStream } from '@grpc/grpc-js';
import { LokiError, checkRef, checkText, type DeepReadonly } from '../../../common/src/index.js';
import {
  PolicyServiceService,
  type Approval as WireApproval,
  type ApprovalEvent as WireApprovalEvent,
  type DecideApprovalRequest,
  type DecideApprovalResponse,
  type DecideRequest,
  type DecideResponse,
  type ExplainRequest,
  type ListApprovalsRequest,
  type ListApprovalsResponse,
  type PolicyAction,
  type PolicyServiceServer,
  type ShowPolicyRequest,
  type ShowPolicyResponse,
  type WatchApprovalsRequest,
} from '../../../proto/gen/loki/v1/policy.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { ServiceModule } from '../grpc/module.js';
import { approvalStatusCodec, autonomyCodec, decisionCodec, enumFromRequest, enumToWire } from '../grpc/vocab.js';
import { StreamBacklog } from '../grpc/backlog.js';
import { serverStream, unary, writeMessage, type HandlerContext } from '../grpc/wrap.js';
import type { Approval, ApprovalEvent } from './approvals.js';
import type { PolicyConfig } from './config.js';
import type { Action, AutonomyMode, DecideContext, Decision } from './engine.js';
import { checkWaitMs, type PolicyService } from './service.js';

/** What a session runs with, as its store records it. */
export interface SessionSettings {
  profile: string;
  /** The autonomy mode chosen at start ("" = none). */
  autonomy: string;
  /** The terminal state of an ended session (completed, failed, stopped); "" while it lives. */
  ended: string;
}

/** A session's workspace: its path in the sandbox and, once made, the host directory behind it (for symlink checks). */
export interface SessionWorkspace {
  sandbox: string;
  host?: string;
}

export interface PolicyModuleDeps {
  service: PolicyService;
  /** Owner subject of a session, undefined when the session is unknown. */
  ownerOf: (sessionId: string) => Promise<string | undefined>;
  /**
   * A session's workspace, as its agent channel decides with it. Decide and Explain for a session
   * use it, never the engine's default (policy.workspace), so they answer as the agent is answered.
   */
  workspaceOf?: (sessionId: string) => Promise<SessionWorkspace | undefined>;
  /** A session's profile, autonomy mode and whether it ended, when the session is known. */
  settingsOf: (sessionId: string) => Promise<SessionSettings | undefined>;
  /** The loaded `policy` config section, for ShowPolicy. */
  config: DeepReadonly<Pick<PolicyConfig, 'allowed_paths' | 'protected_paths' | 'approvals'>>;
}

const MAX_WRITTEN_PATHS = 10_000;

export function toDomainAction(a: PolicyAction | undefined): Action {
  const k = a?.kind;
  if (!k) throw new LokiError('invalid_argument', 'action is required (one of shell, write, read, delete, commit, phase)');
  switch (k.$case) {
    case 'shell':
      return { kind: 'shell', command: k.shell.command };
    case 'write':
      return { kind: 'write', path: k.write.path };
    case 'read':
      return { kind: 'read', path: k.read.path };
    case 'delete':
      return { kind: 'delete', path: k.delete.path };
    case 'commit':
      return { kind: 'commit', message: k.commit.message };
    case 'phase':
      return { kind: 'phase', name: k.phase.name };
  }
}

export function toWireDecision(d: Decision, approvalId = ''): DecideResponse {
  return {
    decision: decisionCodec.toWire(d.decision),
    reason: d.reason,
    rule: d.rule,
    normalized: d.normalized,
    actionHash: d.actionHash,
    approvalId,
    profile: d.profile,
    mode: enumToWire(autonomyCodec, d.mode),
    legacyMode: d.mode,
    commands: d.commands.map((c) => ({ normalized: c.normalized, via: c.via, decision: decisionCodec.toWire(c.decision), rule: c.rule, reason: c.reason })),
  };
}

export function toWireApproval(a: Approval): WireApproval {
  return {
    id: a.id,
    sessionId: a.sessionId,
    actionKind: a.actionKind,
    normalized: a.normalized,
    command: a.command,
    actionHash: a.actionHash,
    askedBy: a.askedBy,
    reason: a.reason,
    requestedAtMs: a.requestedAt,
    expiresAtMs: a.expiresAt,
    status: approvalStatusCodec.toWire(a.status),
    legacyStatus: a.status,
    decidedBy: a.decidedBy,
    decidedAtMs: a.decidedAt,
    comment: a.comment,
    consumedAtMs: a.consumedAt,
    approvalsRequired: a.approvalsRequired,
    approvers: [...a.approvers],
    distinctFromStarter: a.distinctFromStarter,
  };
}

export function createPolicyModule(deps: PolicyModuleDeps): ServiceModule {
  if (!deps?.service || !deps.ownerOf || !deps.settingsOf || !deps.config) throw new Error('createPolicyModule needs service, ownerOf, settingsOf and config');
  const { service, ownerOf } = deps;

  /** Gateway callers act only on sessions they own (unless `*`); the local admin on any. */
  const requireSession = async (caller: Caller, sessionId: string): Promise<void> => {
    const owner = await ownerOf(sessionId);
    if (caller.role === 'local-admin') return;
    if (owner === undefined || !canAccessOwned(caller, owner)) {
      // Same answer for "not yours" and "does not exist", so ids cannot be probed.
      throw new LokiError('not_found', `no session ${JSON.stringify(sessionId)} visible to ${caller.subject}`);
    }
  };

  const context = async (req: { sessionId: string; profile: string; cwd: string; sessionWrittenPaths: string[] }, sessionId: string): Promise<DecideContext> => {
    if (req.sessionWrittenPaths.length > MAX_WRITTEN_PATHS) throw new LokiError('invalid_argument', `session_written_paths is limited to ${MAX_WRITTEN_PATHS} entries`);
    if (req.cwd && !req.cwd.startsWith('/')) throw new LokiError('invalid_argument', 'cwd must be an absolute sandbox path');
    const ws = await deps.workspaceOf?.(sessionId);
    return {
      sessionId,
      ...(req.profile ? { profile: req.profile } : {}),
      ...(req.cwd ? { cwd: req.cwd } : {}),
      ...(ws ? { workspace: ws.sandbox } : {}),
      ...(ws?.host ? { hostWorkspace: ws.host } : {}),
      ...(req.sessionWrittenPaths.length ? { sessionWritten: new Set(req.sessionWrittenPaths) } : {}),
    };
  };

  /** The profile and autonomy mode a known session runs with; an unknown session is refused, never decided with defaults. */
  const settings = async (sessionId: string): Promise<{ profile: string; mode?: AutonomyMode; ended: string }> => {
    const s = await deps.settingsOf(sessionId);
    if (!s) throw new LokiError('session_not_found', `no session ${JSON.stringify(sessionId)}`);
    return { profile: s.profile || service.engine.defaultProfile, ...(s.autonomy ? { mode: s.autonomy as AutonomyMode } : {}), ended: s.ended };
  };

  const visible = async (caller: Caller, a: Approval): Promise<boolean> => {
    if (caller.role === 'local-admin') return true;
    const owner = await ownerOf(a.sessionId);
    return owner !== undefined && canAccessOwned(caller, owner);
  };

  return {
    name: 'loki.v1.PolicyService',
    roles: ['local-admin', 'gateway'],
    register(server: Server, ctx: HandlerContext): void {
      const impl: PolicyServiceServer = {
        decide: unary<DecideRequest, DecideResponse>(ctx, 'PolicyService.Decide', async (req, caller) => {
          // Decide acts on the session: it records decisions, opens approvals a human must then
          // look at, and uses up an approved one (the agent then has to ask again). A viewer may
          // ask how the policy decides (Explain), not do this.
          requireScope(caller, 'control');
          if (!req.sessionId) throw new LokiError('invalid_argument', 'session_id is required');
          checkWaitMs(req.waitMs || undefined);
          await requireSession(caller, req.sessionId);
          const action = toDomainAction(req.action);
          // Decide is recorded against the session (audit entry, approvals bound to it), so it decides as
          // the session's agent channel does: with the session's own profile and autonomy mode. Another
          // profile would put a decision on the session's record that its runs never get; that question
          // is Explain's, which records nothing.
          const s = await settings(req.sessionId);
          // As the agent channel refuses an ended session: no decision (or approval) is recorded for a session nothing can act for.
          if (s.ended) throw new LokiError('session_not_active', `session ${req.sessionId} is ${s.ended}; nothing can act for it any more (Explain still answers how its policy decides)`);
          if (req.profile && service.engine.profile(req.profile).name !== s.profile) {
            throw new LokiError(
              'invalid_argument',
              `session ${req.sessionId} runs with policy profile "${s.profile}"; Decide records its decision for the session, so profile must be empty or "${s.profile}" (got "${req.profile}"). ` +
                `To see how profile "${req.profile}" would decide, use Explain (loki policy check --session ${req.sessionId} --profile ${req.profile}), which records nothing`,
            );
          }
          const c = await context({ ...req, profile: s.profile }, req.sessionId);
          if (s.mode) c.mode = s.mode;
          const r = await service.decide(action, c, {
            subject: caller.subject,
            requestId: caller.requestId,
            ...(req.approvalId ? { approvalId: req.approvalId } : {}),
            ...(req.waitMs ? { waitMs: req.waitMs } : {}),
          });
          return toWireDecision(r, r.approvalId);
        }),
        explain: unary<ExplainRequest, DecideResponse>(ctx, 'PolicyService.Explain', async (req, caller) => {
          requireScope(caller, 'read');
          if (req.sessionId) await requireSession(caller, req.sessionId);
          const action = toDomainAction(req.action);
          const c = await context(req, req.sessionId || 'explain');
          // As the session: its profile (unless the request names one) and the autonomy mode it was started
          // with, as the agent channel decides for it (`loki policy check --session`).
          const s = req.sessionId ? await settings(req.sessionId) : undefined;
          if (s && !req.profile) c.profile = s.profile;
          if (s?.mode) c.mode = s.mode;
          return toWireDecision(service.explain(action, c));
        }),
        listApprovals: unary<ListApprovalsRequest, ListApprovalsResponse>(ctx, 'PolicyService.ListApprovals', async (req, caller) => {
          requireScope(caller, 'read');
          if (req.sessionId) await requireSession(caller, req.sessionId);
          const list = await service.listApprovals({ sessionId: req.sessionId, status: enumFromRequest(approvalStatusCodec, 'status', req.status, req.legacyStatus) });
          const shown: Approval[] = [];
          for (const a of list) if (await visible(caller, a)) shown.push(a);
          return { approvals: shown.map(toWireApproval) };
        }),
        decideApproval: unary<DecideApprovalRequest, DecideApprovalResponse>(ctx, 'PolicyService.DecideApproval', async (req, caller) => {
          requireScope(caller, 'control');
          if (!req.id) throw new LokiError('invalid_argument', 'id is required');
          checkRef('approval', req.id);
          // Kept with the decision, sent to the agent in its reason and shown to every approver: prose, never escapes.
          checkText('comment', req.comment, { max: 2000, multiline: true });
          const a = await service.approvals.get(req.id);
          if (!(await visible(caller, a))) throw new LokiError('approval_not_found', `no approval with id ${JSON.stringify(req.id)}`);
          const done = await service.decideApproval(req.id, req.approve, caller.subject, req.comment, caller.requestId, caller.clientIp);
          return { approval: toWireApproval(done) };
        }),
        watchApprovals: serverStream<WatchApprovalsRequest, WireApprovalEvent>(ctx, 'PolicyService.WatchApprovals', async (req, caller, call, signal) => {
          requireScope(caller, 'read');
          if (req.sessionId) await requireSession(caller, req.sessionId);
          await watch(req, caller, call, signal, visible, service);
        }),
        showPolicy: unary<ShowPolicyRequest, ShowPolicyResponse>(ctx, 'PolicyService.ShowPolicy', async (req, caller) => {
          requireScope(caller, 'read');
          const engine = service.engine;
          const names = req.profile ? [engine.profile(req.profile).name] : engine.profileNames();
          return {
            defaultProfile: engine.defaultProfile,
            mode: autonomyCodec.toWire(engine.modeFor(engine.profile())),
            legacyMode: engine.modeFor(engine.profile()),
            profiles: names.map((n) => {
              const p = engine.profile(n);
              return {
                name: p.name,
                description: p.description,
                defaultDecision: decisionCodec.toWire(p.default),
                legacyDefaultDecision: p.default,
                failClosed: p.failClosed,
                writes: p.writes,
                commit: p.commit,
                mode: autonomyCodec.toWire(engine.modeFor(p)),
                legacyMode: engine.modeFor(p),
                rules: p.rules.map((r) => ({ id: r.id, effect: r.effect, pattern: r.pattern, reason: r.reason })),
              };
            }),
            allowedPaths: [...deps.config.allowed_paths],
            protectedPaths: [...deps.config.protected_paths],
            approvalTimeoutSeconds: deps.config.approvals.timeout_seconds,
            onTimeout: deps.config.approvals.on_timeout,
            fourEyes: deps.config.approvals.four_eyes,
          };
        }),
      };
      server.addService(PolicyServiceService, impl);
    },
  };
}

async function watch(
  req: WatchApprovalsRequest,
  caller: Caller,
  call: ServerWritableStream<WatchApprovalsRequest, WireApprovalEvent>,
  signal: AbortSignal,
  visible: (c: Caller, a: Approval) => Promise<boolean>,
  service: PolicyService,
): Promise<void> {
  // Subscribe before listing so nothing that happens in between is lost. Every
  // approval's events wait here for the reader (visibility is checked when one is
  // sent: an async lookup here could reorder events), so a reader that stops
  // reading while agents open approvals gets its watch ended (grpc/backlog.ts).
  const queue = new StreamBacklog<ApprovalEvent>(
    (max) => `this approvals watch fell more than ${max} events behind (its reader is not keeping up) and was ended; watch again with include_pending to see what is still pending`,
  );
  const unsubscribe = service.approvals.subscribe((e) => {
    if (req.sessionId && e.approval.sessionId !== req.sessionId) return;
    queue.push(e);
  });
  try {
    if (req.includePending) {
      for (const a of await service.listApprovals({ sessionId: req.sessionId, status: 'pending' })) {
        if (await visible(caller, a)) await writeMessage(call, { type: 'pending', approval: toWireApproval(a) }, queue.signal);
      }
    }
    for (let e = await queue.next(signal); e; e = await queue.next(signal)) {
      if (await visible(caller, e.approval)) await writeMessage(call, { type: e.type, approval: toWireApproval(e.approval) }, queue.signal);
    }
  } finally {
    unsubscribe();
  }
}
