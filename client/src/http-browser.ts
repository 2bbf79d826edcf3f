// A thin browser transport for the dashboard: the LokiClient methods the web UI
// needs, over same-origin fetch. It authenticates with the HttpOnly cookie
// session (the page never holds the token) and echoes the session's CSRF token
// on every state change. Event streams are server-sent events read with fetch
// and resumed after a drop with Last-Event-ID (the gateway replays from the
// daemon's durable event log), so a consumer sees no gap and no duplicate.
// Only browser globals here (fetch, TextDecoder, URLSearchParams): no node imports.
import { LokiError } from '../../common/src/index.js';
import { decodeHttpError } from './errors.js';
import { resumable } from './resume.js';
import { collectSessions, sessionPages, type SessionListOptions, type SessionPage } from './session-pages.js';
import { sseErrorFrame, sseFrames } from './sse-frames.js';
import type {
  Approval,
  ApprovalEvent,
  ApprovalQuery,
  AuditPage,
  AuditQuery,
  AuditVerification,
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

/** GET /auth/methods: what the login page may offer. */
export interface SignInMethods {
  token: boolean;
  oidc: 'disabled' | 'ready' | 'unavailable';
}

declare const location: { origin: string } | undefined;

type Query = Record<string, string | number | boolean | undefined>;

function qs(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The body of a fetch response as text chunks. */
async function* textChunks(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield dec.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * What the dashboard learns about its link to Loki from each call and stream: it answered, or it
 * failed with this error (kind `unavailable`: the gateway or lokid is not answering; `unauthenticated`:
 * the sign-in has ended). The page decides what to show (web/src/connection.ts).
 */
export type LinkReport = { ok: true } | { ok: false; error: LokiError };

interface StreamOptions<T> {
  parse: (data: string) => T;
  /** seq or gid: resumes with Last-Event-ID; without one (the approvals stream, not durable) it simply reconnects. */
  cursor?: (v: T) => number;
  /** A clean end is not the end (live lists): reopen it. */
  endless: boolean;
  signal?: AbortSignal;
  /** Reconnect after a drop (default true). */
  retry?: boolean;
}

/**
 * A server-sent-events stream over fetch (not EventSource, which drops every
 * event name it was not told to listen for — a newer daemon's event type would
 * be a silent gap). A dropped connection is reopened with Last-Event-ID from
 * `cursor` (seq or gid), so nothing is lost or repeated. Every open, drop and
 * error frame is reported, so the page can say whether what it shows is live.
 */
function sseIterable<T>(url: string, o: StreamOptions<T>, report: (r: LinkReport) => void): AsyncIterable<T> {
  let n = 0;
  const { cursor, signal, parse } = o;
  const cursorOf = cursor ?? (() => ++n);
  const failed = (err: LokiError): LokiError => {
    if (!signal?.aborted) report({ ok: false, error: err });
    return err;
  };
  const once = (after: number): AsyncIterable<T> => ({
    async *[Symbol.asyncIterator]() {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (cursor && after > 0) headers['last-event-id'] = String(after);
      let res: Response;
      try {
        res = await fetch(url, { headers, credentials: 'same-origin', ...(signal ? { signal } : {}) });
      } catch (err) {
        throw failed(new LokiError('unavailable', 'the event stream could not be opened: the Loki gateway is not answering', { cause: err }));
      }
      if (!res.ok) throw failed(decodeHttpError(res.status, await res.json().catch(() => undefined), url));
      report({ ok: true });
      try {
        for await (const f of sseFrames(textChunks(res))) {
          if (f.event === 'error') throw sseErrorFrame(f.data);
          let v: T;
          try {
            v = parse(f.data);
          } catch {
            continue;
          }
          yield v;
        }
      } catch (err) {
        if (err instanceof LokiError) throw failed(err);
        throw failed(new LokiError('unavailable', 'the event stream was cut', { cause: err }));
      }
      // A cut connection fails the read above; a clean end is the server's word that the stream
      // is over (a session's events after it ended) — except for endless streams, which reopen.
      if (o.endless) throw new LokiError('unavailable', 'the event stream ended');
    },
  });
  // An open dashboard keeps trying (a gateway or lokid restart, a laptop waking up), at most every 5 s.
  return resumable({ start: 0, cursorOf, open: once, attempts: o.retry === false ? 0 : Number.MAX_SAFE_INTEGER, delayMs: 500, maxDelayMs: 5000, ...(signal ? { signal } : {}) });
}

export class BrowserLokiClient {
  private csrf: string | null = null;
  readonly transport = { kind: 'http' as const, target: '', tls: false };
  private observers = new Set<(r: LinkReport) => void>();
  private readonly report = (r: LinkReport): void => {
    for (const f of this.observers) f(r);
  };

  constructor(private readonly base = '') {
    this.transport.target = base || (typeof location === 'undefined' ? '' : location.origin);
    this.transport.tls = this.transport.target.startsWith('https:');
  }

  /** Tells `f` the outcome of every call and stream from now on; returns the function that stops it. */
  observe(f: (r: LinkReport) => void): () => void {
    this.observers.add(f);
    return () => this.observers.delete(f);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrf) headers['x-csrf-token'] = this.csrf;
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      const le = new LokiError('unavailable', 'the Loki gateway is not answering (the request did not reach it)', { cause: err });
      this.report({ ok: false, error: le });
      throw le;
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const le = decodeHttpError(res.status, json, path);
      this.report({ ok: false, error: le });
      throw le;
    }
    this.report({ ok: true });
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
  /** The sign-in methods this gateway offers (public; asked before signing in). */
  signInMethods(): Promise<SignInMethods> {
    return this.call<SignInMethods>('GET', '/auth/methods');
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
    // The gateway pages the list (default 100): follow the pages so the dashboard still shows every session.
    listPage: (o: SessionListOptions = {}) => this.call<SessionPage>('GET', `/api/sessions${qs({ all: o.all, limit: o.limit, page_token: o.page_token })}`),
    pages: (o: Omit<SessionListOptions, 'page_token'> = {}) => sessionPages(this.sessions.listPage, o),
    list: (opts: { all?: boolean } = {}): Promise<Session[]> => collectSessions(this.sessions.listPage, opts),
    get: (id: string) => this.call<Session>('GET', `/api/sessions/${encodeURIComponent(id)}`),
    start: (input: StartSessionInput) => this.call<Session>('POST', '/api/control/start', input),
    stop: (id: string) => this.call<Session>('POST', '/api/control/stop', { session_id: id }),
    pause: (id: string) => this.call<Session>('POST', '/api/control/pause', { session_id: id }),
    resume: (id: string) => this.call<Session>('POST', '/api/control/resume', { session_id: id }),
    events: (id: string, opts: { follow?: boolean; signal?: AbortSignal } = {}): AsyncIterable<SessionEvent> =>
      sseIterable(`${this.base}/api/sessions/${encodeURIComponent(id)}/events${qs({ follow: opts.follow ?? true })}`, { parse: (d) => JSON.parse(d) as SessionEvent, cursor: (e) => e.seq, endless: false, ...(opts.signal ? { signal: opts.signal } : {}) }, this.report),
    diff: (id: string) => this.call<DiffSummary>('GET', `/api/sessions/${encodeURIComponent(id)}/diff`),
    patch: (id: string) => this.call<SessionPatch>('GET', `/api/sessions/${encodeURIComponent(id)}/patch`),
    trail: async (id: string, limit = 500) => (await this.call<{ entries: TrailEntry[] }>('GET', `/api/sessions/${encodeURIComponent(id)}/trail${qs({ limit })}`)).entries,
  };

  /** Every event of every session the caller may see, from now on (live list updates). */
  allEvents(signal?: AbortSignal): AsyncIterable<SessionEvent> {
    return sseIterable(`${this.base}/api/events${qs({ follow: true })}`, { parse: (d) => JSON.parse(d) as SessionEvent, cursor: (e) => e.gid, endless: true, ...(signal ? { signal } : {}) }, this.report);
  }

  readonly approvals = {
    list: async (q: ApprovalQuery = {}) => (await this.call<{ approvals: Approval[] }>('GET', `/api/approvals${qs({ session_id: q.session_id, status: q.status })}`)).approvals,
    approve: (id: string, opts: { comment?: string } = {}) => this.call<Approval>('POST', `/api/approvals/${encodeURIComponent(id)}/approve`, opts),
    reject: (id: string, opts: { comment?: string } = {}) => this.call<Approval>('POST', `/api/approvals/${encodeURIComponent(id)}/reject`, opts),
    watch: (opts: { session_id?: string; signal?: AbortSignal } = {}): AsyncIterable<ApprovalEvent> =>
      sseIterable(`${this.base}/api/approvals/events${qs({ session_id: opts.session_id })}`, { parse: (d) => JSON.parse(d) as ApprovalEvent, endless: true, ...(opts.signal ? { signal: opts.signal } : {}) }, this.report),
  };

  readonly sandboxes = {
    list: async (opts: { all?: boolean } = {}) => (await this.call<{ sandboxes: Sandbox[] }>('GET', `/api/sandboxes${qs({ all: opts.all })}`)).sandboxes,
    stop: (id: string) => this.call<{ sandbox: Sandbox; removed: boolean }>('POST', `/api/sandboxes/${encodeURIComponent(id)}/stop`, {}),
    /** The last `tail` lines of a sandbox's output, as UTF-8 text chunks (no follow: the stream ends; a cut is an error, never a replay). */
    logs: (id: string, opts: { tail?: number; signal?: AbortSignal } = {}): AsyncIterable<{ stream: 'stdout' | 'stderr'; data: string }> =>
      sseIterable(`${this.base}/api/sandboxes/${encodeURIComponent(id)}/logs${qs({ follow: false, tail: opts.tail })}`, { parse: (d) => JSON.parse(d) as { stream: 'stdout' | 'stderr'; data: string }, endless: false, retry: false, ...(opts.signal ? { signal: opts.signal } : {}) }, this.report),
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
    verify: () => this.call<AuditVerification>('GET', '/api/enterprise/audit/verify'),
  };
}
