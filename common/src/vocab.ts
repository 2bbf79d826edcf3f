// Loki's closed value lists, defined once. Every surface that names one of them
// (daemon validation and config schemas, gateway JSON schemas, CLI option help,
// the web and Ink dashboards, the gRPC enum converters on both sides of the
// wire) imports the list from here instead of spelling it again, so adding a
// value is one edit here plus one enum value in proto/loki/v1/*.proto.

/** A session's life: `pending → starting → running ⇄ paused`, `running ⇄ waiting_approval`, then a terminal state. */
export const SESSION_STATES = ['pending', 'starting', 'running', 'paused', 'waiting_approval', 'completed', 'failed', 'stopped'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** The states a session never leaves. */
export const TERMINAL_SESSION_STATES = ['completed', 'failed', 'stopped'] as const satisfies readonly SessionState[];
export type TerminalSessionState = (typeof TERMINAL_SESSION_STATES)[number];

/** Every state that is not terminal. */
export const ACTIVE_SESSION_STATES = ['pending', 'starting', 'running', 'paused', 'waiting_approval'] as const satisfies readonly SessionState[];

/** Takes a string so a newer daemon's state (unknown here) counts as not terminal rather than failing. */
export function isTerminalState(state: string): boolean {
  return (TERMINAL_SESSION_STATES as readonly string[]).includes(state);
}

/** loki_session_status: 0 stopped (or finished), 1 running (also starting and waiting for approval), 2 paused — Loki Mode's encoding. */
export function sessionStatusValue(state: string): number {
  if (state === 'paused') return 2;
  return isTerminalState(state) ? 0 : 1;
}

/** Who drives the agent inside the sandbox. */
export const PROVIDERS = ['script', 'openai', 'claude'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** How often the agent stops for a human (Loki Mode's autonomy modes). */
export const AUTONOMY_MODES = ['perpetual', 'checkpoint', 'supervised'] as const;
export type AutonomyMode = (typeof AUTONOMY_MODES)[number];

/** What the policy answers for an agent action. */
export const DECISIONS = ['allow', 'deny', 'ask'] as const;
export type DecisionKind = (typeof DECISIONS)[number];

/** An approval request's life. */
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** A task's status in the agent's plan and the registry. */
export const TASK_STATUSES = ['pending', 'in_progress', 'completed', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** A sandbox's state as its driver reports it (Docker's container states). */
export const SANDBOX_STATES = ['created', 'running', 'paused', 'restarting', 'exited', 'dead', 'removing'] as const;
export type SandboxState = (typeof SANDBOX_STATES)[number];

/** Session ids as the daemon mints them (`ses-` + 12 hex digits); a JSON-schema pattern and its RegExp. */
export const SESSION_ID_PATTERN = '^ses-[0-9a-f]{12}$';
export const SESSION_ID_RE = new RegExp(SESSION_ID_PATTERN);

/** True when `value` is one of `list` (narrows the type). */
export function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

/** `a | b | c`, the way help texts and error messages show a list. */
export function listText(list: readonly string[]): string {
  return list.join(' | ');
}

/**
 * Maps one of the lists above to its proto enum and back. The proto enums list
 * the values in the same order after `*_UNSPECIFIED = 0`, so a value's number is
 * its position + 1 (test/common/vocab.test.ts holds every enum to that).
 * `W` is the generated enum type; the converters at each side of the wire
 * (daemon/src/grpc/vocab.ts, client/src/grpc/vocab.ts) decide what an unknown
 * number means there.
 */
export interface EnumCodec<D extends string, W extends number> {
  readonly values: readonly D[];
  /** '' (not set) is 0 (UNSPECIFIED). */
  toWire(value: D | ''): W;
  /** undefined for 0 and for a number outside the list. */
  fromWire(n: number): D | undefined;
}

export function enumCodec<D extends string, W extends number>(values: readonly D[]): EnumCodec<D, W> {
  return {
    values,
    toWire: (value) => (value === '' ? 0 : values.indexOf(value) + 1) as W,
    fromWire: (n) => (Number.isInteger(n) && n >= 1 && n <= values.length ? values[n - 1] : undefined),
  };
}
