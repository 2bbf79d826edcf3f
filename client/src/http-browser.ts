// A thin browser transport for the dashboard: the LokiClient methods the web UI
// needs, over same-origin fetch and EventSource. It authenticates with the
// HttpOnly cookie session (the page never holds the token) and echoes the
// session's CSRF token on every state change. EventSource resumes a dropped
// stream by itself with Last-Event-ID (the gateway replays from the daemon's
// durable event log), so a consumer sees no gap and no duplicate; the seq/gid
// guard below also drops anything already delivered.
// Only browser globals here (fetch, EventSource, URLSearchParams): no node imports.
// The repository's tsconfig has no DOM library, so the few browser globals used
// here are declared below by shape.
import { decodeHttpError } from './errors.js';
import type {
  Approval,
  ApprovalEvent,
  ApprovalQuery,
  AuditPage,
  AuditQuery,
  DiffSummary,
  GeneratedToken,
  GenerateTokenInput,
  Project,
  Sandbox,
  Session,
  SessionEvent,
  SessionPatch,
  StartSessionInput,
  Status,
  Token,
  TrailEntry,
} from './types.js';

export interface BrowserSession {
  subject: string;
  role: string | null;
  scopes: string[];
  method: string;
  csrf_token: string | null;
  expires_at: string | null;
}

interface SseMessage {
  data?: unknown;
}
interface EventSourceLike {
  addEventListener(type: string, fn: (ev: SseMessage) => void): void;
  close(): void;
}
declare const EventSource: new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;
declare const location: { origin: string } | undefined;

type Query = Record<string, string | number | boolean | undefined>;

function qs(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** An AsyncIterable over an EventSource; `key` picks the resume cursor so a re-delivered event is dropped. */
function sseIterable<T>(url: string, types: readonly string[], parse: (data: string) => T, key?: (v: T) => number, signal?: AbortSignal): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const es = new EventSource(url, { withCredentials: true });
      const queue: T[] = [];
      let wake: (() => void) | undefined;
      let done = false;
      let last = -1;
      const push = (ev: SseMessage) => {
        // A connection error is also an `error` event, without data: EventSource retries it by itself.
        if (typeof ev.data !== 'string') return;
        let v: T;
        try {
          v = parse(ev.data);
        } catch {
          return;
        }
        if (key) {
          const k = key(v);
          if (k <= last) return;
          last = k;
        }
        queue.push(v);
        wake?.();
      };
      for (const t of types) es.addEventListener(t, push);
      const close = () => {
        done = true;
        es.close();
        wake?.();
      };
      signal?.addEventListener('abort', close);
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (queue.length) return { value: queue.shift()!, done: false };
            if (done) return { value: undefined, done: true };
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        },
        async return(): Promise<IteratorResult<T>> {
          close();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

export class BrowserLokiClient {
  private csrf: string | null = null;
  readonly transport = { kind: 'http' as const, target: '', tls: false };

  constructor(private readonly base = '') {
    this.transport.target = base || (typeof location === 'undefined' ? '' : location.origin);
    this.transport.tls = this.transport.target.startsWith('https:');
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['x-csrf-token'] = this.csrf;
    const res = await fetch(this.base + path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) throw decodeHttpError(res.status, json, path);
    return json as T;
  }

  // ---- the browser session (cookie)
  async whoami(): Promise<BrowserSession> {
    const me = await this.call<BrowserSession>('GET', '/auth/session');
    this.csrf = me.csrf_token;
    return me;
  }
  async login(token: string): Promise<BrowserSession> {
    const me = await this.call<BrowserSession>('POST', '/auth/session', { token });
    this.csrf = me.csrf_token;
    return me;
  }
  async logout(): Promise<void> {
    await this.call('POST', '/auth/session/logout');
    this.csrf = null;
  }

  status(): Promise<Status> {
    return this.call('GET', '/api/status');
  }
  metricsText(): Promise<string> {
    return fetch(`${this.base}/metrics`, { credentials: 'same-origin' }).then(async (r) => {
      if (!r.ok) throw decodeHttpError(r.status, await r.json().catch(() => undefined), '/metrics');
      return r.text();
    });
  }

  readonly sessions = {
    list: async (opts: { all?: boolean } = {}) => (await this.call<{ sessions: Session[] }>('GET', `/api/sessions${qs({ all: opts.all })}`)).sessions,
    get: (id: string) => this.call<Session>('GET', `/api/sessions/${encodeURIComponent(id)}`),
    start: (input: StartSessionInput) => this.call<Session>('POST', '/api/control/start', input),
    stop: (id: string) => this.call<Session>('POST', '/api/control/stop', { session_id: id }),
    pause: (id: string) => this.call<Session>('POST', '/api/control/pause', { session_id: id }),
    resume: (id: string) => this.call<Session>('POST', '/api/control/resume', { session_id: id }),
    events: (id: string, opts: { follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<SessionEvent> =>
      sseIterable(`${this.base}/api/sessions/${encodeURIComponent(id)}/events${qs({ follow: opts.follow ?? true })}`, ['message', ...EVENT_TYPES], (d) => JSON.parse(d) as SessionEvent, (e) => e.seq, opts.signal),
    diff: (id: string) => this.call<DiffSummary>('GET', `/api/sessions/${encodeURIComponent(id)}/diff`),
    patch: (id: string) => this.call<SessionPatch>('GET', `/api/sessions/${encodeURIComponent(id)}/patch`),
    trail: async (id: string, limit = 500) => (await this.call<{ entries: TrailEntry[] }>('GET', `/api/sessions/${encodeURIComponent(id)}/trail${qs({ limit })}`)).entries,
  };

  /** Every event of every session the caller may see (live list updates). Event names are open-ended, so the page subscribes by type. */
  allEvents(types: readonly string[], signal?: AbortSignal): AsyncIterable<SessionEvent> {
    return sseIterable(`${this.base}/api/events${qs({ follow: true, after: 0 })}`, types, (d) => JSON.parse(d) as SessionEvent, undefined, signal);
  }

  readonly approvals = {
    list: async (q: ApprovalQuery = {}) => (await this.call<{ approvals: Approval[] }>('GET', `/api/approvals${qs({ session_id: q.session_id, status: q.status })}`)).approvals,
    approve: (id: string, opts: { comment?: string } = {}) => this.call<Approval>('POST', `/api/approvals/${encodeURIComponent(id)}/approve`, opts),
    reject: (id: string, opts: { comment?: string } = {}) => this.call<Approval>('POST', `/api/approvals/${encodeURIComponent(id)}/reject`, opts),
    watch: (opts: { session_id?: string; signal?: AbortSignal } = {}): AsyncIterable<ApprovalEvent> =>
      sseIterable(`${this.base}/api/approvals/events${qs({ session_id: opts.session_id })}`, ['pending', 'requested', 'decided', 'expired', 'consumed'], (d) => JSON.parse(d) as ApprovalEvent, undefined, opts.signal),
  };

  readonly sandboxes = {
    list: async (opts: { all?: boolean } = {}) => (await this.call<{ sandboxes: Sandbox[] }>('GET', `/api/sandboxes${qs({ all: opts.all })}`)).sandboxes,
    stop: (id: string) => this.call<{ sandbox: Sandbox; removed: boolean }>('POST', `/api/sandboxes/${encodeURIComponent(id)}/stop`, {}),
  };

  readonly projects = {
    list: async () => (await this.call<{ projects: Project[] }>('GET', '/api/projects')).projects,
  };

  readonly tokens = {
    list: async (opts: { all?: boolean } = {}) => (await this.call<{ tokens: Token[] }>('GET', `/api/enterprise/tokens${qs({ all: opts.all })}`)).tokens,
    generate: async (input: GenerateTokenInput): Promise<GeneratedToken> => {
      // The route answers the token's fields flat, plus `token` = the secret (Loki Mode's shape).
      const r = await this.call<Token & { token: string }>('POST', '/api/enterprise/tokens', input);
      const { token: secret, ...rest } = r;
      return { token: rest as Token, secret };
    },
    revoke: (id: string) => this.call<{ revoked: boolean; token: Token }>('DELETE', `/api/enterprise/tokens/${encodeURIComponent(id)}`),
  };

  readonly audit = {
    query: (q: AuditQuery = {}) => this.call<AuditPage>('GET', `/api/enterprise/audit${qs({ ...q })}`),
  };
}

/**
 * The session event types the daemon emits (SSE `event:` names): its own (state, decision, workspace…) and
 * the runner's (agent/convert.ts RUNNER_EVENT_TYPES). EventSource only delivers named events it listens for.
 */
export const EVENT_TYPES = [
  'state', 'decision', 'workspace', 'diff_summary', 'runner_connected', 'reattached', 'stall', 'stop_requested', 'stopped',
  'tool_call', 'tool_result', 'denied', 'phase', 'iteration', 'task', 'usage', 'log', 'error', 'finished', 'approval',
] as const;
