// A LokiClient over fixed data for the screen tests: the dashboard's contract is
// the LokiClient interface, so these tests drive it exactly as the transports
// would (lists, AsyncIterable streams that stay open, failures as LokiError).
// The end-to-end test drives the real transports against a real lokid.
import { LokiError } from '../../../common/src/index.js';
import type { Approval, ApprovalEvent, AuditEntry, LokiClient, OutputChunk, Sandbox, Session, SessionEvent, Status } from '../../../client/src/index.js';

/** A push-driven AsyncIterable that ends when the caller's signal aborts (like a real stream call). */
export class Channel<T> {
  private items: T[] = [];
  private waiters: ((r: IteratorResult<T>) => void)[] = [];
  private failure: Error | null = null;
  opened = 0;
  lastOptions: unknown = null;

  push(item: T): void {
    const w = this.waiters.shift();
    if (w) w({ value: item, done: false });
    else this.items.push(item);
  }

  /** Fails the open iteration (connection lost). */
  fail(err: Error): void {
    this.failure = err;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  iterable(signal: AbortSignal | undefined, opts: unknown): AsyncIterable<T> {
    this.opened++;
    this.lastOptions = opts;
    this.failure = null;
    return {
      [Symbol.asyncIterator]: () => {
        return {
          next: (): Promise<IteratorResult<T>> => {
            if (this.failure) return Promise.reject(this.failure);
            if (signal?.aborted) return Promise.resolve({ value: undefined, done: true });
            const item = this.items.shift();
            if (item !== undefined) return Promise.resolve({ value: item, done: false });
            return new Promise((resolve, reject) => {
              const w = (r: IteratorResult<T>) => (this.failure ? reject(this.failure) : resolve(r));
              this.waiters.push(w);
              signal?.addEventListener('abort', () => resolve({ value: undefined, done: true }), { once: true });
            });
          },
          return: (): Promise<IteratorResult<T>> => {
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
  }
}

export function session(id: string, over: Partial<Session> = {}): Session {
  return {
    id, state: 'running', owner: 'alice', provider: 'script', profile: 'default', autonomy: null, project_id: 'p1', prd: 'inline', model: null, upstream: null,
    branch: `loki/${id}`, sandbox_id: null, created_at: '2026-12-04T05:00:00.000Z', started_at: null, ended_at: null, uptime_seconds: 1,
    iteration: 1, max_iterations: 10, tasks: { pending: 1, in_progress: 1, completed: 2, failed: 0 }, tasks_reached: { pending: 4, in_progress: 2, completed: 2, failed: 0 },
    agents: { active: 1, total: 1 }, cost_usd: 0, tokens: { input: 0, output: 0 }, events_total: 0, decisions: { allow: 0, deny: 0, ask: 0 }, stop_requested: false, reason: null, workspace_removed: false,
    ...over,
  };
}

export function approval(id: string, action: string, over: Partial<Approval> = {}): Approval {
  return {
    id, session_id: 'ses-1', status: 'pending', action, normalized: action, action_kind: 'shell', action_hash: 'h', asked_by: 'rule ask-network', reason: 'network access',
    requested_at: '2026-12-04T05:01:00.000Z', expires_at: null, decided_by: null, decided_at: null, comment: null, used_at: null, approvals_required: 1, approvers: [], distinct_from_starter: false, ...over,
  };
}

export function sandbox(id: string, over: Partial<Sandbox> = {}): Sandbox {
  return { id, name: `sb-${id}`, state: 'running', owner: 'alice', project: 'p1', session: '', image: 'loki-sandbox:latest', created_at: null, workspace: '/w', exit_code: 0, hardening: null, ...over };
}

export function status(scopes: string[] = ['*']): Status {
  return {
    daemon: { version: '0.1.0', started_at: '2026-12-04T05:00:00.000Z', uptime_seconds: 10, sandbox_driver: { name: 'docker', reachable: true, version: '27', can_pause: true }, docker: { reachable: true, version: '27' }, base_image: { name: 'loki-sandbox:latest', present: true }, sandbox_runtime: { name: 'runc', registered: true }, sandboxes: { running: 1, paused: 0, exited: 0, total: 1 } },
    gateway: null,
    caller: { role: 'admin', subject: 'local', scopes },
  };
}

export interface Fixture {
  client: LokiClient;
  sessions: Session[];
  pending: Approval[];
  sandboxes: Sandbox[];
  scopes: string[];
  allEvents: Channel<SessionEvent>;
  sessionEvents: Channel<SessionEvent>;
  approvalEvents: Channel<ApprovalEvent>;
  audit: Channel<AuditEntry>;
  logs: Channel<OutputChunk>;
  calls: string[];
  /** Makes list calls fail (daemon gone) until set back to false. */
  down: boolean;
}

const notHere = (what: string) => () => Promise.reject(new LokiError('internal', `${what} is not used by the dashboard`));

export function fixture(init: Partial<Pick<Fixture, 'sessions' | 'pending' | 'sandboxes' | 'scopes'>> = {}): Fixture {
  const f: Fixture = {
    sessions: init.sessions ?? [], pending: init.pending ?? [], sandboxes: init.sandboxes ?? [], scopes: init.scopes ?? ['*'],
    allEvents: new Channel(), sessionEvents: new Channel(), approvalEvents: new Channel(), audit: new Channel(), logs: new Channel(),
    calls: [], down: false, client: null as unknown as LokiClient,
  };
  const up = <T>(v: () => T): Promise<T> => (f.down ? Promise.reject(new LokiError('daemon_unavailable', 'lokid is not running')) : Promise.resolve(v()));
  const decide = (id: string, st: string, comment?: string) => {
    f.calls.push(`${st} ${id} ${comment ?? ''}`.trim());
    const a = f.pending.find((x) => x.id === id);
    if (!a) return Promise.reject(new LokiError('not_found', `approval ${id} not found`));
    f.pending = f.pending.filter((x) => x.id !== id);
    const done = { ...a, status: st, decided_by: 'local', decided_at: '2026-12-04T05:02:00.000Z', comment: comment ?? null };
    f.approvalEvents.push({ type: 'decided', approval: done });
    return Promise.resolve(done);
  };
  f.client = {
    transport: { kind: 'grpc', target: '/tmp/loki/run/admin.sock', tls: false },
    status: () => up(() => status(f.scopes)),
    sessions: {
      list: () => up(() => f.sessions),
      listPage: () => up(() => ({ sessions: f.sessions, next_page_token: null })),
      pages: () => (async function* () {
        yield await up(() => f.sessions);
      })(),
      get: (id) => up(() => f.sessions.find((s) => s.id === id)!),
      start: notHere('start'), stop: notHere('stop'), pause: notHere('pause'), resume: notHere('resume'), remove: notHere('remove'), prune: notHere('prune'),
      events: (_id, o) => f.sessionEvents.iterable(o?.signal, o),
      allEvents: (o) => f.allEvents.iterable(o?.signal, o),
      diff: (id) => up(() => ({ session_id: id, branch: `loki/${id}`, base_branch: 'main', base_commit: 'a', head_commit: 'b', descends_from_base: true, files_changed: 2, insertions: 10, deletions: 3, files: [{ path: 'src/app.ts', insertions: 8, deletions: 3, binary: false }, { path: 'README.md', insertions: 2, deletions: 0, binary: false }], commits: [], pull_request: null })),
      patch: notHere('patch'), pullRequest: notHere('pullRequest'), workspace: notHere('workspace'),
      trail: () => up(() => [{ session_id: 'ses-1', seq: 1, timestamp: '2026-12-04T05:00:30.000Z', action: 'shell', agent: 'script', details: { command: 'npm test' } }]),
      trailCount: notHere('trailCount'), metrics: notHere('metrics'),
    },
    approvals: {
      list: () => up(() => f.pending),
      get: (id) => up(() => f.pending.find((a) => a.id === id)!),
      approve: (id, o) => decide(id, 'approved', o?.comment),
      reject: (id, o) => decide(id, 'rejected', o?.comment),
      watch: (o) => f.approvalEvents.iterable(o?.signal, o),
    },
    sandboxes: {
      list: () => up(() => f.sandboxes),
      start: notHere('start'), status: notHere('status'),
      logs: (_id, o) => f.logs.iterable(o?.signal, o),
      stop: (id) => {
        f.calls.push(`stop ${id}`);
        f.sandboxes = f.sandboxes.filter((s) => s.id !== id);
        return Promise.resolve({ sandbox: sandbox(id, { state: 'exited' }), removed: true });
      },
      remove: notHere('remove'), exec: notHere('exec'), build: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('no')) }) }),
    },
    projects: { list: notHere('projects'), register: notHere('register'), get: notHere('get'), remove: notHere('remove'), discover: notHere('discover'), health: notHere('health'), sync: notHere('sync'), prune: notHere('prune') },
    tasks: { list: notHere('tasks') },
    memory: { list: notHere('memory'), search: notHere('search') },
    tokens: { list: notHere('tokens'), generate: notHere('generate'), revoke: notHere('revoke') },
    audit: { query: notHere('query'), summary: notHere('summary'), verify: notHere('verify'), tail: (o) => f.audit.iterable(o?.signal, o) },
    policy: { check: notHere('check'), explain: notHere('explain'), show: notHere('show') },
    close: () => undefined,
  };
  return f;
}
