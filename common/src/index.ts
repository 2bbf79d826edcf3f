export { LokiError, ERROR_CODES, KIND_MAP, GRPC_STATUS, isErrorCode, kindFromGrpcStatus, toLokiError } from './errors.js';
export type { ErrorCode, ErrorKind } from './errors.js';
export { cachedIsoTime, createLogger, mayHoldSecret, scrubSecrets, REDACT_PATHS, SECRET_HINT } from './logger.js';
export type { Logger, LoggerFactoryOptions } from './logger.js';
export { logDestination, stderrLogDestination, LOG_FLUSH_MS } from './log-destination.js';
export type { LogDestination, LogDestinationOptions } from './log-destination.js';
export { loadConfig, readConfigFile, deepFreeze, parseBytes, ConfigError } from './config.js';
export type { EnvBinding, EnvType, DeepReadonly, LoadConfigOptions } from './config.js';
export { VERSION } from './version.js';
export { defaultLokiHome, runtimePaths } from './paths.js';
export { isMainModule } from './main-module.js';
export type { RuntimePaths } from './paths.js';
export { SCOPES, ROLES, isScope, isRole, hasScope } from './scopes.js';
export type { Scope, Role } from './scopes.js';
export { OIDC_ROLE_ORDER, mapOidcRoles, oidcGrant } from './oidc-claims.js';
export type { OidcGrant, RoleMappingSettings } from './oidc-claims.js';
export { checkText, textProblem } from './text-input.js';
export { APPROVAL_ID_PATTERN, PROJECT_REF_PATTERN, SANDBOX_REF_PATTERN, checkRef, isRef, malformedRef, refKindOfPattern } from './refs.js';
export type { RefKind } from './refs.js';
export type { TextRule } from './text-input.js';
export { counted, formatBytes, displayLines, escapeForDisplay, firstLineForDisplay, shortenForDisplay, hasHiddenCharacters, needsEscape } from './display.js';
export {
  SESSION_STATES,
  TERMINAL_SESSION_STATES,
  ACTIVE_SESSION_STATES,
  isTerminalState,
  sessionStatusValue,
  PROVIDERS,
  AUTONOMY_MODES,
  DECISIONS,
  APPROVAL_STATUSES,
  TASK_STATUSES,
  SANDBOX_STATES,
  SESSION_ID_PATTERN,
  SESSION_ID_RE,
  isOneOf,
  listText,
  enumCodec,
} from './vocab.js';
export type { EnumCodec, SessionState, TerminalSessionState, Provider, AutonomyMode, DecisionKind, ApprovalStatus, TaskStatus, SandboxState } from './vocab.js';
