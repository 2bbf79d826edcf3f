// What the session feature keeps: sessions, their event log, tasks and agents.
// The SQLite implementation is store/sqlite/sessions.ts. Async like every other
// repository; each write is still ONE method = one transaction (a transition is a
// compare-and-set of the state plus its event), and callers act on its result,
// never on an earlier read (see docs/architecture.md).
// Other features read sessions only through `SessionDirectory` (async, read-only).
import type { AgentDecision } from '../agent/types.js';
import type { Provider, Session, SessionEvent, SessionState, TaskStatus } from './types.js';

export interface NewSession {
  id: string;
  owner: string;
  provider: Provider;
  profile: string;
  autonomy: string;
  projectId: string;
  promptSource: string;
  prompt: string;
  planJson: string;
  model: string;
  baseUrl: string;
  upstream: string;
  maxIterations: number;
  network: boolean;
}

/** Mutable counters the manager updates from runner reports. */
export interface CounterUpdate {
  iteration?: number;
  addCostUsd?: number;
  addInputTokens?: number;
  addOutputTokens?: number;
  decision?: 'allow' | 'deny' | 'ask';
  /** The runner's number of the event recorded with this update: kept as the highest recorded (see lastRunnerSeq). */
  runnerSeq?: number;
  /** A runner said hello: a new runner generation, whose events and Decides are numbered from 1 again (clears the DecideRecord). */
  runnerStart?: boolean;
  /**
   * The runner's latest numbered Decide: replaces the record unless a higher number is already kept,
   * and only while its generation is the session's (a Decide of a runner before the last Hello writes nothing).
   */
  decide?: DecideRecord;
}

/**
 * The runner's last numbered Decide (AgentDecideRequest.decide_seq) and what answers it: only
 * the last one is kept per session, since the runner sends again only the Decide it is waiting on.
 */
export interface DecideRecord {
  /** The runner generation (one more at each Hello) the Decide was asked in. */
  gen: number;
  seq: number;
  /** The action's content (kind and target) hashed: the number sent again for another action is refused. */
  hash: string;
  /** The approval this Decide waits on or was answered by; '' when none was asked for. */
  approvalId: string;
  /** The final answer, once recorded (in the transaction of its `decision` event); undefined while a human decides. */
  answer?: AgentDecision;
  /**
   * An update only: the answer of a Decide that noted this record before it waited for a human. It is
   * kept only while the record is still that one: after a Hello (a new runner) it belongs to nobody.
   */
  noted?: boolean;
}

/** A session's runner generation (one more at each Hello; 0: no Hello yet) and its last numbered Decide in that generation. */
export interface DecideState {
  gen: number;
  last?: DecideRecord;
}

export interface SessionTotals {
  created: number;
  decisions: { allow: number; deny: number; ask: number };
}

/** Position in the list order (created_at, id): the page after this row. */
export interface SessionCursor {
  createdAtMs: number;
  id: string;
}

export interface SessionPageQuery {
  /** Only this owner's sessions; undefined = every owner. */
  owner?: string;
  /** Only sessions in these states; undefined = every state. */
  states?: readonly SessionState[];
  /** Sessions after this position; undefined = from the first. */
  after?: SessionCursor;
  limit: number;
}

export interface SessionPage {
  sessions: Session[];
  /** Set when more sessions follow the last one returned. */
  next?: SessionCursor;
}

export interface SessionRepo {
  /**
   * Inserts the session and its first event in one transaction. `check`, when
   * given, runs inside it with the number of active sessions; throwing aborts the
   * insert, so two starts cannot both pass the concurrency limit.
   */
  insert(s: NewSession, check?: (active: number) => void): Promise<Session>;
  get(id: string): Promise<Session | undefined>;
  /** Every session in list order (created_at, id). */
  list(): Promise<Session[]>;
  listByStates(states: readonly SessionState[]): Promise<Session[]>;
  /** One page in list order, by keyset: the cost of a page does not grow with the table. */
  listPage(q: SessionPageQuery): Promise<SessionPage>;
  /**
   * Ended sessions that still have a workspace or a sandbox, ended at or before
   * `cutoffMs`, in list order: what retention and prune look at, found without
   * loading every session.
   */
  endedWithLeftovers(cutoffMs: number): Promise<Session[]>;
  brief(id: string): Promise<{ prompt: string; planJson: string }>;
  countCreated(): Promise<number>;
  /** Sessions created and decisions summed, in the store (no session is loaded): what /metrics counts. */
  totals(owner?: string): Promise<SessionTotals>;
  /** The `limit` most recently ended sessions, newest first, optionally of one owner. */
  recentlyEnded(limit: number, owner?: string): Promise<Session[]>;
  /**
   * Moves a session to `to` if it is currently in one of `from`, and appends the
   * `state` event, atomically. Returns the event, or undefined when the session
   * was not in `from` (someone else moved it first).
   */
  transition(id: string, from: readonly SessionState[], to: SessionState, message: string, extra?: { reason?: string; data?: Record<string, unknown> }): Promise<SessionEvent | undefined>;
  setRuntime(id: string, f: { sandboxId?: string; workspace?: string; branch?: string }): Promise<void>;
  /** Marks the workspace removed; returns true the first time (a compare-and-set: one of two racing removals wins). */
  markWorkspaceRemoved(id: string): Promise<boolean>;
  /** Sets stop_requested; returns true when it was not set yet (a compare-and-set: one of two racing stops announces it). */
  requestStop(id: string): Promise<boolean>;
  append(id: string, type: string, message: string, data?: Record<string, unknown>, counters?: CounterUpdate): Promise<SessionEvent>;
  /** Counters without an event (heartbeats do not count as activity for stall detection). */
  updateCounters(id: string, counters: CounterUpdate): Promise<void>;
  /** The highest runner number recorded for the session's events since its runner said hello (0: none). */
  lastRunnerSeq(id: string): Promise<number>;
  /** The runner generation and its last numbered Decide since it said hello (none: `last` undefined). */
  lastDecide(id: string): Promise<DecideState>;
  hasTask(id: string, taskId: string): Promise<boolean>;
  /** Distinct tasks of a session (the per-session quota counts these). */
  taskCount(id: string): Promise<number>;
  /** Creates or updates a task; returns true when it is new. */
  setTask(id: string, taskId: string, status: TaskStatus): Promise<boolean>;
  /** Records an agent as seen; returns true the first time. */
  addAgent(id: string, agent: string): Promise<boolean>;
  /** Events of one session with seq > afterSeq, oldest first. */
  events(id: string, afterSeq: number, limit: number): Promise<SessionEvent[]>;
  /** Events of all sessions with gid > afterGid, oldest first. */
  eventsSince(afterGid: number, limit: number): Promise<SessionEvent[]>;
}

/** A task a session reported, with the session it belongs to (the registry's cross-project view). */
export interface SessionTaskRow {
  sessionId: string;
  taskId: string;
  status: string;
  projectId: string;
  owner: string;
  sessionState: string;
  sessionCreatedAtMs: number;
}

/** What other features (git, registry) may ask about sessions; read-only. */
export interface SessionDirectory {
  /** True when the daemon has a record of this session. */
  known(sessionId: string): Promise<boolean>;
  /** Tasks of the sessions of these projects, newest session first. */
  tasksOfProjects(projectIds: readonly string[], q: { status: string; limit: number }): Promise<SessionTaskRow[]>;
  /** The newest session of a project. */
  lastOfProject(projectId: string): Promise<{ id: string; state: string; reason: string } | undefined>;
}
