// One error taxonomy for every Loki process. Each code belongs to a kind; each
// kind maps to exactly one gRPC status, one HTTP status and one CLI exit code.
// Errors are converted at the wire only (daemon handler wrapper, gateway client,
// Fastify error handler, CLI main) — never by hand in business logic.

export type ErrorKind =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'conflict'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'internal';

/** Every error code Loki can return, with its kind. docs/errors.md is kept in sync by a test. */
export const ERROR_CODES = {
  invalid_argument: 'invalid_argument',
  invalid_config: 'invalid_argument',
  payload_too_large: 'invalid_argument',
  unauthenticated: 'unauthenticated',
  permission_denied: 'permission_denied',
  relaxation_not_allowed: 'permission_denied',
  protected_path: 'permission_denied',
  not_found: 'not_found',
  sandbox_not_found: 'not_found',
  image_not_found: 'not_found',
  token_not_found: 'not_found',
  conflict: 'conflict',
  name_in_use: 'conflict',
  token_name_in_use: 'conflict',
  failed_precondition: 'failed_precondition',
  sandbox_not_running: 'failed_precondition',
  hardening_unavailable: 'failed_precondition',
  resource_exhausted: 'resource_exhausted',
  token_limit_reached: 'resource_exhausted',
  unavailable: 'unavailable',
  daemon_unavailable: 'unavailable',
  gateway_not_allowed: 'unavailable',
  docker_unavailable: 'unavailable',
  // projects, session workspaces and session branches
  project_not_found: 'not_found',
  workspace_not_found: 'not_found',
  not_a_git_repo: 'invalid_argument',
  invalid_ref: 'invalid_argument',
  project_exists: 'conflict',
  ref_exists: 'conflict',
  protected_ref: 'failed_precondition',
  non_fast_forward: 'failed_precondition',
  base_branch_missing: 'failed_precondition',
  unsafe_workspace: 'failed_precondition',
  no_remote: 'failed_precondition',
  // policy approvals
  approval_not_found: 'not_found',
  approval_decided: 'conflict',
  approval_expired: 'failed_precondition',
  approval_mismatch: 'permission_denied',
  approval_not_granted: 'permission_denied',
  four_eyes_required: 'permission_denied',
  // agent sessions
  session_not_found: 'not_found',
  session_not_active: 'failed_precondition',
  session_limit_reached: 'resource_exhausted',
  decide_seq_reused: 'invalid_argument',
  runner_replaced: 'failed_precondition',
  internal: 'internal',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** gRPC status numbers (from @grpc/grpc-js `status`), kept here so common/ has no grpc dependency. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

interface KindMapping {
  grpc: number;
  http: number;
  exit: number;
}

/** The one table: kind → gRPC status, HTTP status, CLI exit code. */
export const KIND_MAP: Readonly<Record<ErrorKind, KindMapping>> = Object.freeze({
  invalid_argument: { grpc: GRPC_STATUS.INVALID_ARGUMENT, http: 400, exit: 2 },
  unauthenticated: { grpc: GRPC_STATUS.UNAUTHENTICATED, http: 401, exit: 3 },
  permission_denied: { grpc: GRPC_STATUS.PERMISSION_DENIED, http: 403, exit: 4 },
  not_found: { grpc: GRPC_STATUS.NOT_FOUND, http: 404, exit: 5 },
  conflict: { grpc: GRPC_STATUS.FAILED_PRECONDITION, http: 409, exit: 6 },
  failed_precondition: { grpc: GRPC_STATUS.FAILED_PRECONDITION, http: 409, exit: 6 },
  resource_exhausted: { grpc: GRPC_STATUS.RESOURCE_EXHAUSTED, http: 429, exit: 7 },
  unavailable: { grpc: GRPC_STATUS.UNAVAILABLE, http: 503, exit: 8 },
  internal: { grpc: GRPC_STATUS.INTERNAL, http: 500, exit: 1 },
});

export class LokiError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  override readonly cause: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'LokiError';
    this.code = code;
    this.kind = ERROR_CODES[code];
    this.cause = options?.cause;
  }

  get grpcStatus(): number {
    return KIND_MAP[this.kind].grpc;
  }

  get httpStatus(): number {
    return KIND_MAP[this.kind].http;
  }

  get exitCode(): number {
    return KIND_MAP[this.kind].exit;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Best kind for a gRPC status that arrived without a Loki code (e.g. from grpc-js itself). */
export function kindFromGrpcStatus(status: number): ErrorKind {
  switch (status) {
    case GRPC_STATUS.INVALID_ARGUMENT:
    case GRPC_STATUS.OUT_OF_RANGE:
      return 'invalid_argument';
    case GRPC_STATUS.UNAUTHENTICATED:
      return 'unauthenticated';
    case GRPC_STATUS.PERMISSION_DENIED:
      return 'permission_denied';
    case GRPC_STATUS.NOT_FOUND:
      return 'not_found';
    case GRPC_STATUS.ALREADY_EXISTS:
    case GRPC_STATUS.ABORTED:
      return 'conflict';
    case GRPC_STATUS.FAILED_PRECONDITION:
      return 'failed_precondition';
    case GRPC_STATUS.RESOURCE_EXHAUSTED:
      return 'resource_exhausted';
    case GRPC_STATUS.UNAVAILABLE:
    case GRPC_STATUS.DEADLINE_EXCEEDED:
    case GRPC_STATUS.CANCELLED:
      return 'unavailable';
    default:
      return 'internal';
  }
}

/** Wraps anything thrown into a LokiError; unknown errors become `internal` with the original as cause. */
export function toLokiError(err: unknown): LokiError {
  if (err instanceof LokiError) return err;
  return new LokiError('internal', 'internal error', { cause: err });
}
