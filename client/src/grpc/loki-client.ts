// LokiClient over gRPC: the admin socket for the CLI and dashboards on the
// daemon's host, and (bound to one forwarded caller) the gateway's daemon client.
import type { Client, Metadata } from '@grpc/grpc-js';
import { LokiError, checkRef } from '../../../common/src/index.js';
import { StartSessionRequest, type ListSessionsResponse } from '../../../proto/gen/loki/v1/sessions.js';
import type { ApprovalEvent as PbApprovalEvent } from '../../../proto/gen/loki/v1/policy.js';
import type { LokiClient, TransportInfo } from '../client.js';
import { resumable } from '../resume.js';
import { collectSessions, sessionPages, type SessionListOptions, type SessionPage } from '../session-pages.js';
import type { ExecSession } from '../types.js';
import {
  fromPolicyAction,
  toApproval,
  toAuditEntry,
  toAuditSummary,
  toBuildProgress,
  toDiff,
  toPolicyDecision,
  toPolicyShow,
  toProject,
  toPullRequest,
  toSandbox,
  toSession,
  toSessionEvent,
  toSessionMetrics,
  toStatus,
  toToken,
  toTrailEntry,
  toVerification,
  toWorkspace,
} from './convert.js';
import { approvalStatusCodec, autonomyCodec, enumForRequest, providerCodec } from './vocab.js';
import { startExec } from './exec.js';
import { memoryMethods, registryProjectMethods, tasksMethods } from './registry.js';
import type { Services } from './services.js';
import { lazyClient } from './lazy-client.js';
import { iterateStream } from './stream.js';
import { fromServiceError, type CallIdentity, type Channel, type Invoke, type Unary } from './daemon-client-wire.js';

// Starting and stopping wait on Docker and git; give them longer than a plain read.
const SLOW_MS = 120_000;
// Prune removes many workspaces (each an unmount and a delete) in one call.
const PRUNE_MS = 600_000;
const VERIFY_MS = 10 * 60_000;

export interface GrpcLokiClientDeps {
  services: Services;
  invoke: Invoke;
  channel: Channel;
  /** The identity of each call (a fresh request id per call for the CLI). */
  identity: () => CallIdentity;
  /** Metadata of a streaming call (unary calls get it through `invoke`). */
  metadata: (id: CallIdentity) => Metadata;
  transport: TransportInfo;
  close: () => void;
}

const toSessionPage = (r: ListSessionsResponse): SessionPage => ({ sessions: r.sessions.map(toSession), next_page_token: r.nextPageToken || null });

/** One page of the sessions `id` may see: LokiClient's `sessions.listPage`, and the gateway's list route without a caller-bound client. */
export function listSessionsPage(invoke: Invoke, s: Services, o: SessionListOptions, id: CallIdentity): Promise<SessionPage> {
  return invoke('SessionService/List', s.sessions, s.sessions.list, { all: o.all ?? false, pageSize: o.limit ?? 100, pageToken: o.page_token ?? '' }, id).then(toSessionPage);
}

export function createGrpcLokiClient(d: GrpcLokiClientDeps): LokiClient {
  const { services: s, invoke, channel } = d;
  const call = <Req, Res>(name: string, client: Client, method: Unary<Req, Res>, req: Req, timeoutMs?: number): Promise<Res> =>
    invoke<Req, Res>(name, client, method, req, d.identity(), timeoutMs);
  const decode = (err: unknown) => fromServiceError(err, channel);
  const md = () => d.metadata(d.identity());

  const listPage = (o: SessionListOptions = {}): Promise<SessionPage> => listSessionsPage(invoke, s, o, d.identity());
  const approvalsList = async (q: { session_id?: string; status?: string }) => {
    const status = enumForRequest(approvalStatusCodec, 'status', q.status === 'all' ? '' : q.status);
    return (await call('PolicyService/ListApprovals', s.policy, s.policy.listApprovals, { sessionId: q.session_id ?? '', status: status.wire, legacyStatus: status.legacy })).approvals.map(toApproval);
  };

  // Built per caller (the gateway binds one per request): each API group is made
  // on first use, so a request pays for the one group it calls, not for all ~70 methods.
  return lazyClient({
    transport: d.transport,
    async status() {
      return toStatus(await call('SystemService/GetStatus', s.system, s.system.getStatus, {}));
    },
    sessions: () => ({
      list: (o) => collectSessions(listPage, o),
      listPage,
      pages: (o) => sessionPages(listPage, o),
      async get(id) {
        return toSession(await call('SessionService/Get', s.sessions, s.sessions.get, { id }));
      },
      async start(i) {
        const provider = enumForRequest(providerCodec, 'provider', i.provider);
        const autonomy = enumForRequest(autonomyCodec, 'autonomy mode', i.autonomy);
        const req = StartSessionRequest.fromPartial({
          prd: i.prd ?? '',
          prompt: i.prompt ?? '',
          provider: provider.wire,
          legacyProvider: provider.legacy,
          plan: i.plan ?? '',
          profile: i.profile ?? '',
          autonomy: autonomy.wire,
          legacyAutonomy: autonomy.legacy,
          project: i.project ?? '',
          projectPath: i.project_path ?? '',
          model: i.model ?? '',
          baseUrl: i.base_url ?? '',
          upstream: i.upstream ?? '',
          maxIterations: i.max_iterations ?? 0,
          network: i.network ?? false,
        });
        return toSession(await call('SessionService/Start', s.sessions, s.sessions.start, req, SLOW_MS));
      },
      async stop(id) {
        return toSession(await call('SessionService/Stop', s.sessions, s.sessions.stop, { id }, SLOW_MS));
      },
      async pause(id) {
        return toSession(await call('SessionService/Pause', s.sessions, s.sessions.pause, { id }, SLOW_MS));
      },
      async resume(id) {
        return toSession(await call('SessionService/Resume', s.sessions, s.sessions.resume, { id }, SLOW_MS));
      },
      async remove(id) {
        const r = await call('SessionService/Remove', s.sessions, s.sessions.remove, { id }, SLOW_MS);
        return { session: toSession(r.session), freed_bytes: r.freedBytes };
      },
      async prune(i = {}) {
        const dryRun = i.dry_run ?? false;
        const r = await call('SessionService/Prune', s.sessions, s.sessions.prune, { olderThanSeconds: i.older_than_seconds ?? 0, dryRun }, PRUNE_MS);
        return { removed: r.removed, freed_bytes: r.freedBytes, dry_run: dryRun };
      },
      events(id, o = {}) {
        return resumable({
          start: o.after_seq ?? 0,
          cursorOf: (e) => e.seq,
          signal: o.signal,
          onReconnect: o.on_reconnect,
          open: (after) => iterateStream(() => s.sessions.events({ sessionId: id, afterSeq: after, afterGid: 0, follow: o.follow ?? false }, md()), toSessionEvent, decode, o.signal),
        });
      },
      allEvents(o = {}) {
        return resumable({
          start: o.after_gid ?? 0,
          cursorOf: (e) => e.gid,
          signal: o.signal,
          onReconnect: o.on_reconnect,
          open: (after) => iterateStream(() => s.sessions.events({ sessionId: '', afterSeq: 0, afterGid: after, follow: o.follow ?? false }, md()), toSessionEvent, decode, o.signal),
        });
      },
      async diff(id) {
        return toDiff(await call('WorkspaceService/Diff', s.workspace, s.workspace.diff, { sessionId: id }, SLOW_MS));
      },
      async pullRequest(id) {
        return toPullRequest(await call('WorkspaceService/OpenPullRequest', s.workspace, s.workspace.openPullRequest, { sessionId: id }, PRUNE_MS));
      },
      async patch(id) {
        const r = await call('WorkspaceService/Patch', s.workspace, s.workspace.patch, { sessionId: id }, SLOW_MS);
        return { session_id: r.sessionId, base_commit: r.baseCommit, head_commit: r.headCommit, patch: r.patch, truncated: r.truncated };
      },
      async workspace(id) {
        return toWorkspace(await call('WorkspaceService/GetWorkspace', s.workspace, s.workspace.getWorkspace, { sessionId: id }));
      },
      async trail(q = {}) {
        return (await call('WorkspaceService/AuditLog', s.workspace, s.workspace.auditLog, { sessionId: q.session_id ?? '', limit: q.limit ?? 0 })).entries.map(toTrailEntry);
      },
      async trailCount(q = {}) {
        const r = await call('WorkspaceService/AuditCount', s.workspace, s.workspace.auditCount, { sessionId: q.session_id ?? '' });
        return { total: r.total, by_action: { ...r.byAction }, by_session: { ...r.bySession } };
      },
      async metrics() {
        return toSessionMetrics(await call('SessionService/Metrics', s.sessions, s.sessions.metrics, {}));
      },
    }),
    approvals: () => ({
      list: (q = {}) => approvalsList(q),
      async get(id) {
        // No single-approval RPC: the list is already scoped to what the caller may see. A malformed
        // id is the same invalid_argument the gateway and DecideApproval give, not a not-found.
        checkRef('approval', id);
        const found = (await approvalsList({ status: 'all' })).find((a) => a.id === id);
        if (!found) throw new LokiError('approval_not_found', `no approval with id ${JSON.stringify(id)}`);
        return found;
      },
      async approve(id, o = {}) {
        return toApproval((await call('PolicyService/DecideApproval', s.policy, s.policy.decideApproval, { id, approve: true, comment: o.comment ?? '' })).approval);
      },
      async reject(id, o = {}) {
        return toApproval((await call('PolicyService/DecideApproval', s.policy, s.policy.decideApproval, { id, approve: false, comment: o.comment ?? '' })).approval);
      },
      watch(o = {}) {
        return iterateStream(
          () => s.policy.watchApprovals({ sessionId: o.session_id ?? '', includePending: o.include_pending ?? false }, md()),
          (e: PbApprovalEvent) => ({ type: e.type, approval: toApproval(e.approval) }),
          decode,
          o.signal,
        );
      },
    }),
    sandboxes: () => ({
      async list(o) {
        return (await call('SandboxService/List', s.sandbox, s.sandbox.list, { all: o?.all ?? false })).sandboxes.map(toSandbox);
      },
      async start(i) {
        const r = await call('SandboxService/Start', s.sandbox, s.sandbox.start, {
          name: i.name ?? '',
          project: i.project ?? '',
          image: i.image ?? '',
          command: i.command ?? [],
          env: i.env ?? {},
          limits: { memoryBytes: i.limits?.memory_bytes ?? 0, cpus: i.limits?.cpus ?? 0, pids: i.limits?.pids ?? 0 },
          relax: { network: i.relax?.network ?? false, writableRootfs: i.relax?.writable_rootfs ?? false, rootUser: i.relax?.root_user ?? false },
        }, SLOW_MS);
        return toSandbox(r.sandbox);
      },
      async status(id) {
        return toSandbox(await call('SandboxService/Status', s.sandbox, s.sandbox.status, { id }));
      },
      logs(id, o = {}) {
        return iterateStream(
          () => s.sandbox.logs({ id, follow: o.follow ?? false, tail: o.tail ?? 0, timestamps: o.timestamps ?? false }, md()),
          (c) => ({ stream: c.stream === 2 ? ('stderr' as const) : ('stdout' as const), data: c.data }),
          decode,
          o.signal,
        );
      },
      async stop(id, o = {}) {
        // The grace period can be long; the deadline follows it.
        const grace = (o.timeout_seconds ?? 0) * 1000;
        const r = await call('SandboxService/Stop', s.sandbox, s.sandbox.stop, { id, timeoutSeconds: o.timeout_seconds ?? 0, keep: o.keep ?? false }, SLOW_MS + grace);
        return { sandbox: toSandbox(r.sandbox), removed: r.removed };
      },
      async remove(id, o = {}) {
        await call('SandboxService/Remove', s.sandbox, s.sandbox.remove, { id, force: o.force ?? false }, SLOW_MS);
      },
      exec(id, o): Promise<ExecSession> {
        return startExec(s.sandbox, md(), decode, id, o);
      },
      build(o = {}) {
        return iterateStream(
          () => s.sandbox.build({ tag: o.tag ?? '', force: o.force ?? false, withClaude: o.with_claude ?? false, claudeVersion: o.claude_version ?? '' }, md()),
          toBuildProgress,
          decode,
          o.signal,
        );
      },
    }),
    projects: () => ({
      async list() {
        return (await call('WorkspaceService/ListProjects', s.workspace, s.workspace.listProjects, {})).projects.map(toProject);
      },
      async register(i) {
        return toProject(await call('WorkspaceService/RegisterProject', s.workspace, s.workspace.registerProject, {
          path: i.path,
          name: i.name ?? '',
          baseBranch: i.base_branch ?? '',
          remote: i.remote ?? '',
          protectedBranches: i.protected_branches ?? [],
          alias: i.alias ?? '',
        }, SLOW_MS));
      },
      async get(idOrName) {
        return toProject(await call('WorkspaceService/GetProject', s.workspace, s.workspace.getProject, { project: idOrName }));
      },
      async remove(idOrName) {
        await call('WorkspaceService/RemoveProject', s.workspace, s.workspace.removeProject, { project: idOrName });
      },
      ...registryProjectMethods(s, call, SLOW_MS),
    }),
    tasks: () => tasksMethods(s, call),
    memory: () => memoryMethods(s, call),
    tokens: () => ({
      async list(o) {
        const now = Date.now();
        return (await call('TokenService/List', s.tokens, s.tokens.list, { all: o?.all ?? false })).tokens.map((t) => toToken(t, now));
      },
      async generate(i) {
        const r = await call('TokenService/Generate', s.tokens, s.tokens.generate, { name: i.name, scopes: i.scopes ?? [], role: i.role ?? '', expiresDays: i.expires_days ?? 0 });
        return { token: toToken(r.token), secret: r.secret };
      },
      async revoke(nameOrId) {
        return toToken((await call('TokenService/Revoke', s.tokens, s.tokens.revoke, { nameOrId })).token);
      },
    }),
    audit: () => ({
      async query(q = {}) {
        const r = await call('AuditService/Query', s.audit, s.audit.query, {
          limit: q.limit ?? 0,
          action: q.action ?? '',
          user: q.user ?? '',
          result: q.result ?? '',
          since: q.since ?? '',
          until: q.until ?? '',
          cursor: q.cursor ?? 0,
        });
        return { entries: r.entries.map(toAuditEntry), next_cursor: r.nextCursor || null };
      },
      async summary(r = {}) {
        return toAuditSummary(await call('AuditService/Summary', s.audit, s.audit.summary, { since: r.since ?? '', until: r.until ?? '' }));
      },
      async verify() {
        return toVerification(await call('AuditService/Verify', s.audit, s.audit.verify, {}, VERIFY_MS));
      },
      tail(o = {}) {
        return iterateStream(() => s.audit.tail({ last: o.last ?? 0, action: o.action ?? '', follow: o.follow ?? false }, md()), toAuditEntry, decode, o.signal);
      },
    }),
    policy: () => ({
      async check(i) {
        const r = toPolicyDecision(await call('PolicyService/Explain', s.policy, s.policy.explain, { sessionId: i.session_id ?? '', action: fromPolicyAction(i.action), profile: i.profile ?? '', cwd: i.cwd ?? '', sessionWrittenPaths: [] }));
        return { ...r, commands: [] };
      },
      async explain(i) {
        return toPolicyDecision(await call('PolicyService/Explain', s.policy, s.policy.explain, { sessionId: i.session_id ?? '', action: fromPolicyAction(i.action), profile: i.profile ?? '', cwd: i.cwd ?? '', sessionWrittenPaths: [] }));
      },
      async show(o = {}) {
        return toPolicyShow(await call('PolicyService/ShowPolicy', s.policy, s.policy.showPolicy, { profile: o.profile ?? '' }));
      },
    }),
    close: d.close,
  });
}
