// LokiClient over the gateway's HTTP API (docs/api.md): JSON bodies are the
// domain types already, lists come in envelopes (`{"sessions":[…]}`), streams
// are SSE resumed with Last-Event-ID, exec/shell is a WebSocket.
import { LokiError } from '../../../common/src/index.js';
import type { LokiClient } from '../client.js';
import type {
  Approval,
  ApprovalEvent,
  AuditEntry,
  AuditPage,
  AuditSummary,
  AuditVerification,
  DiffSummary,
  GeneratedToken,
  PolicyCheckInput,
  PolicyDecision,
  PolicyShow,
  Project,
  PullRequestResult,
  DiscoverResult,
  ProjectHealth,
  ProjectSync,
  PruneBranchesResult,
  RegistryTask,
  Learning,
  PruneResult,
  RemovedSession,
  Sandbox,
  Session,
  SessionEvent,
  SessionPatch,
  Status,
  StopSandboxResult,
  Token,
  TrailEntry,
  Workspace,
} from '../types.js';
import { startWsExec } from './exec.js';
import { json, open, type HttpCall, type HttpTarget } from './request.js';
import { sse } from './sse.js';
import { collectSessions, sessionPages, type SessionListOptions, type SessionPage } from '../session-pages.js';

export interface HttpClientOptions {
  /** Gateway base URL, e.g. https://loki.example:57374. */
  url: string;
  /** API token (`loki_…`) or OIDC JWT. */
  token?: string;
  /** PEM CA bundle for a gateway certificate from a private CA. */
  ca?: string | Buffer;
  /** Deadline of a plain call (default 30 s). */
  timeoutMs?: number;
}

const SLOW_MS = 130_000;
// Prune removes many workspaces (each an unmount and a delete) in one call.
const PRUNE_MS = 610_000;
const enc = encodeURIComponent;

function policyBody(i: PolicyCheckInput): Record<string, unknown> {
  const base = { ...(i.session_id ? { session_id: i.session_id } : {}), ...(i.profile ? { profile: i.profile } : {}), ...(i.cwd ? { cwd: i.cwd } : {}) };
  switch (i.action.kind) {
    case 'shell':
      return { ...base, command: i.action.command };
    case 'write':
    case 'read':
    case 'delete':
      return { ...base, path: i.action.path, kind: i.action.kind };
    default:
      throw new LokiError('invalid_argument', `the HTTP API checks shell commands and paths, not ${i.action.kind} actions`);
  }
}

function localOnly(what: string): never {
  throw new LokiError('failed_precondition', `${what} runs on the daemon's host only: run it there without --url (remote mode talks to the gateway)`);
}

export function createHttpClient(o: HttpClientOptions): LokiClient {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new LokiError('invalid_argument', `not a URL: ${JSON.stringify(o.url)} (expected e.g. https://host:57374)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new LokiError('invalid_argument', `the gateway URL must be http:// or https://, got ${url.protocol}`);
  // A credential in the URL (user:password@, ?token=) would travel in the request line or as Basic auth,
  // end up in proxy logs and in `loki login`'s file; the path of every call is appended to this URL, so a
  // query or fragment would also swallow it. Refuse them by name, and never echo the URL back.
  if (url.username || url.password) throw new LokiError('invalid_argument', 'the gateway URL must not contain a user name or password; give the token with --token-file, --with-token or $LOKI_TOKEN');
  if (url.search || url.hash || o.url.includes('?') || o.url.includes('#')) {
    throw new LokiError('invalid_argument', `the gateway URL must not have a query (?…) or fragment (#…): give its base, e.g. ${url.origin}${url.pathname}; never put a token in a URL: use --token-file, --with-token or $LOKI_TOKEN`);
  }
  const t: HttpTarget = { url, ...(o.token ? { token: o.token } : {}), ...(o.ca ? { ca: o.ca } : {}), timeoutMs: o.timeoutMs ?? 30_000 };
  const get = <T>(path: string, query?: HttpCall['query'], timeoutMs?: number) => json<T>(t, { method: 'GET', path, ...(query ? { query } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
  const listPage = (o: SessionListOptions = {}) => get<SessionPage>('/api/sessions', { all: o.all ? true : undefined, limit: o.limit, page_token: o.page_token || undefined });
  const post = <T>(path: string, body: unknown = {}, timeoutMs?: number) => json<T>(t, { method: 'POST', path, body, ...(timeoutMs ? { timeoutMs } : {}) });
  const notServed = (what: string): never => {
    throw new LokiError('unavailable', `the gateway's HTTP API does not offer ${what}; run it on the daemon's host without --url`);
  };
  const parse = <T>(data: string): T | undefined => {
    try {
      return JSON.parse(data) as T;
    } catch {
      return undefined;
    }
  };

  return {
    transport: { kind: 'http', target: url.origin + url.pathname.replace(/\/+$/, ''), tls: url.protocol === 'https:' },
    async status(): Promise<Status> {
      const s = await get<{ version: string; daemon: Status['daemon']; gateway: { version: string; auth: 'enabled' | 'disabled' }; caller: { subject: string; scopes: string[]; role?: string } }>('/api/status');
      let ready = false;
      try {
        const res = await open(t, { method: 'GET', path: '/healthz/ready', timeoutMs: 5000 });
        ready = res.statusCode === 200;
        res.resume();
      } catch {
        ready = false;
      }
      // A gateway older than the driver-neutral status names only Docker.
      const daemon = s.daemon.sandbox_driver ? s.daemon : { ...s.daemon, sandbox_driver: { name: 'docker', reachable: s.daemon.docker.reachable, version: s.daemon.docker.version, can_pause: true } };
      return {
        daemon,
        gateway: { url: url.origin, tls: url.protocol === 'https:', version: s.gateway?.version ?? s.version, auth: s.gateway?.auth ?? 'enabled', ready },
        caller: { role: s.caller.role ?? 'gateway', subject: s.caller.subject, scopes: s.caller.scopes },
      };
    },
    sessions: {
      list: (q) => collectSessions(listPage, q),
      listPage,
      pages: (q) => sessionPages(listPage, q),
      get: (id) => get<Session>(`/api/sessions/${enc(id)}`),
      start: (i) => {
        if (i.project_path) localOnly('starting a session on a local working tree (--project-path)');
        const { project_path: _p, ...body } = i;
        return post<Session>('/api/control/start', body, SLOW_MS);
      },
      stop: (id) => post<Session>('/api/control/stop', { session_id: id }, SLOW_MS),
      pause: (id) => post<Session>('/api/control/pause', { session_id: id }, SLOW_MS),
      resume: (id) => post<Session>('/api/control/resume', { session_id: id }, SLOW_MS),
      remove: (id) => json<RemovedSession>(t, { method: 'DELETE', path: `/api/sessions/${enc(id)}/workspace`, timeoutMs: SLOW_MS }),
      prune: (i = {}) => post<PruneResult>('/api/sessions/prune', { ...(i.older_than_seconds ? { older_than_seconds: i.older_than_seconds } : {}), ...(i.dry_run ? { dry_run: true } : {}) }, PRUNE_MS),
      events: (id, q = {}) =>
        sse<SessionEvent>(t, {
          call: { path: `/api/sessions/${enc(id)}/events`, query: { follow: q.follow ?? false } },
          map: (f) => (f.event === 'end' ? undefined : parse<SessionEvent>(f.data)),
          cursorOf: (e) => e.seq,
          start: q.after_seq ?? 0,
          resume: true,
          onReconnect: q.on_reconnect,
          ...(q.signal ? { signal: q.signal } : {}),
        }),
      allEvents: (q = {}) =>
        sse<SessionEvent>(t, {
          call: { path: '/api/events', query: { follow: q.follow ?? false } },
          map: (f) => (f.event === 'end' ? undefined : parse<SessionEvent>(f.data)),
          cursorOf: (e) => e.gid,
          start: q.after_gid ?? 0,
          resume: true,
          onReconnect: q.on_reconnect,
          ...(q.signal ? { signal: q.signal } : {}),
        }),
      diff: (id) => get<DiffSummary>(`/api/sessions/${enc(id)}/diff`),
      patch: (id) => get<SessionPatch>(`/api/sessions/${enc(id)}/patch`),
      pullRequest: (id) => post<PullRequestResult>(`/api/sessions/${enc(id)}/pr`, {}, SLOW_MS * 2),
      workspace: (id) => get<Workspace>(`/api/sessions/${enc(id)}/branch`),
      trail: async (q = {}) => {
        if (!q.session_id) return notServed('the trail of every session (pass one session)');
        return (await get<{ entries: TrailEntry[] }>(`/api/sessions/${enc(q.session_id)}/trail`, { limit: q.limit || undefined })).entries;
      },
      trailCount: () => notServed('trail counts'),
      metrics: () => notServed('session metrics (scrape GET /metrics instead)'),
    },
    approvals: {
      list: async (q = {}) => (await get<{ approvals: Approval[] }>('/api/approvals', { session_id: q.session_id, status: q.status ?? 'all' })).approvals,
      get: (id) => get<Approval>(`/api/approvals/${enc(id)}`),
      approve: (id, q = {}) => post<Approval>(`/api/approvals/${enc(id)}/approve`, q.comment ? { comment: q.comment } : {}),
      reject: (id, q = {}) => post<Approval>(`/api/approvals/${enc(id)}/reject`, q.comment ? { comment: q.comment } : {}),
      watch: (q = {}) =>
        sse<ApprovalEvent>(t, {
          call: { path: '/api/approvals/events', query: { session_id: q.session_id } },
          // The route always starts with the pending ones; drop them when not asked for.
          map: (f) => {
            const e = parse<ApprovalEvent>(f.data);
            return e && (q.include_pending || e.type !== 'pending') ? e : undefined;
          },
          cursorOf: () => 0,
          start: 0,
          resume: false,
          ...(q.signal ? { signal: q.signal } : {}),
        }),
    },
    sandboxes: {
      list: async (q) => (await get<{ sandboxes: Sandbox[] }>('/api/sandboxes', { all: q?.all ? true : undefined })).sandboxes,
      start: (i) =>
        post<Sandbox>('/api/sandboxes', {
          ...(i.name ? { name: i.name } : {}),
          ...(i.project ? { project: i.project } : {}),
          ...(i.image ? { image: i.image } : {}),
          ...(i.command?.length ? { command: i.command } : {}),
          ...(i.env && Object.keys(i.env).length ? { env: i.env } : {}),
          ...(i.limits?.memory_bytes ? { memory_bytes: i.limits.memory_bytes } : {}),
          ...(i.limits?.cpus ? { cpus: i.limits.cpus } : {}),
          ...(i.limits?.pids ? { pids: i.limits.pids } : {}),
          ...(i.relax?.network ? { network: true } : {}),
          ...(i.relax?.writable_rootfs ? { writable_rootfs: true } : {}),
          ...(i.relax?.root_user ? { root_user: true } : {}),
        }, SLOW_MS),
      status: (id) => get<Sandbox>(`/api/sandboxes/${enc(id)}`),
      logs: (id, q = {}) =>
        sse(t, {
          call: { path: `/api/sandboxes/${enc(id)}/logs`, query: { follow: q.follow ?? false, tail: q.tail || undefined, timestamps: q.timestamps || undefined } },
          map: (f) => {
            if (f.event !== 'stdout' && f.event !== 'stderr') return undefined;
            const c = parse<{ stream: string; data: string }>(f.data);
            return c ? { stream: f.event, data: Buffer.from(c.data, 'utf8') } : undefined;
          },
          cursorOf: () => 0,
          start: 0,
          resume: false,
          ...(q.signal ? { signal: q.signal } : {}),
        }),
      stop: (id, q = {}) => post<StopSandboxResult>(`/api/sandboxes/${enc(id)}/stop`, { ...(q.timeout_seconds ? { timeout_seconds: q.timeout_seconds } : {}), ...(q.keep ? { keep: true } : {}) }, SLOW_MS + (q.timeout_seconds ?? 0) * 1000),
      remove: async (id, q = {}) => {
        await json(t, { method: 'DELETE', path: `/api/sandboxes/${enc(id)}`, query: { force: q.force || undefined }, timeoutMs: SLOW_MS });
      },
      exec: (id, q) => startWsExec(t, id, q),
      build: () => localOnly('`loki sandbox build`'),
    },
    projects: {
      list: async () => (await get<{ projects: Project[] }>('/api/registry/projects')).projects,
      register: (i) => post<Project>('/api/registry/projects', i, SLOW_MS),
      get: (id) => get<Project>(`/api/registry/projects/${enc(id)}`),
      remove: async (id) => {
        await json(t, { method: 'DELETE', path: `/api/registry/projects/${enc(id)}` });
      },
      // Registering changes state, so it is a POST; a plain look is a GET.
      discover: (i = {}) =>
        i.register ? post<DiscoverResult>('/api/registry/discover', i, SLOW_MS) : get<DiscoverResult>('/api/registry/discover', { root: i.roots?.length ? i.roots : undefined, depth: i.depth || undefined }, SLOW_MS),
      health: (id) => get<ProjectHealth>(`/api/registry/projects/${enc(id)}/health`, undefined, SLOW_MS),
      prune: (id, o = {}) => post<PruneBranchesResult>('/api/registry/prune', { ...(id ? { project: id } : {}), ...(o.yes ? { yes: true } : {}) }, SLOW_MS),
      sync: async (id) => (await post<{ projects: ProjectSync[] }>('/api/registry/sync', id ? { project: id } : {}, SLOW_MS)).projects,
    },
    memory: {
      list: async (q = {}) => (await get<{ learnings: Learning[] }>('/api/registry/learnings', { project: q.project, limit: q.limit || undefined })).learnings,
      search: async (text, q = {}) => (await get<{ learnings: Learning[] }>('/api/registry/learnings', { q: text, project: q.project, limit: q.limit || undefined })).learnings,
    },
    tasks: {
      list: async (q = {}) => (await get<{ tasks: RegistryTask[] }>('/api/registry/tasks', { status: q.status, project: q.project, limit: q.limit || undefined })).tasks,
    },
    tokens: {
      list: async (q) => (await get<{ tokens: Token[] }>('/api/enterprise/tokens', { all: q?.all ? true : undefined })).tokens,
      generate: async (i): Promise<GeneratedToken> => {
        const r = await post<Token & { token: string }>('/api/enterprise/tokens', {
          name: i.name,
          ...(i.scopes?.length ? { scopes: i.scopes } : {}),
          ...(i.role ? { role: i.role } : {}),
          ...(i.expires_days ? { expires_days: i.expires_days } : {}),
        });
        const { token: secret, ...rest } = r as Token & { token: string; message?: string };
        delete (rest as { message?: string }).message;
        return { token: rest, secret };
      },
      revoke: async (nameOrId) => (await json<{ token: Token }>(t, { method: 'DELETE', path: `/api/enterprise/tokens/${enc(nameOrId)}` })).token,
    },
    audit: {
      query: (q = {}) => get<AuditPage>('/api/enterprise/audit', { limit: q.limit, action: q.action, user: q.user, result: q.result, since: q.since, until: q.until, cursor: q.cursor || undefined }),
      summary: (r = {}) => get<AuditSummary>('/api/enterprise/audit/summary', { since: r.since, until: r.until }),
      verify: () => get<AuditVerification>('/api/enterprise/audit/verify'),
      tail: (q = {}): AsyncIterable<AuditEntry> => {
        if (q.follow) return notServed('a live audit tail');
        return {
          async *[Symbol.asyncIterator]() {
            const page = await get<AuditPage>('/api/enterprise/audit', { limit: q.last ?? 20, action: q.action });
            // The API pages newest first; a tail reads oldest first.
            yield* [...page.entries].reverse();
          },
        };
      },
    },
    policy: {
      check: async (i) => ({ ...(await post<PolicyDecision>('/api/policy/check', policyBody(i))), commands: [] }),
      explain: (i) => post<PolicyDecision>('/api/policy/explain', policyBody(i)),
      show: (q = {}) => get<PolicyShow>('/api/policy', { profile: q.profile }),
    },
    close() {
      // node:http keeps no pooled sockets for us (no keep-alive agent): nothing to release.
    },
  };
}
