// Agent sessions: lifecycle, store, agent hooks and the SessionService adapter.
export { SessionManager, SESSION_ID_RE, ACTIVE_STATES } from './manager.js';
export type { SessionManagerOptions, EventQuery, SessionMetricsSnapshot } from './manager.js';
export { SessionStore, SESSION_MIGRATIONS } from './store.js';
export { SessionAgentHooks } from './hooks.js';
export { createSessionsModule, toWireSession, toWireEvent, toStartInput } from './grpc.js';
export type { SessionsModuleDeps } from './grpc.js';
export { sessionsConfigSchema, sessionsEnvBindings, defaultSessionsConfig } from './config.js';
export type { SessionsConfig } from './config.js';
export { PROVIDERS, TERMINAL_STATES, TASK_STATUSES, isTerminal } from './types.js';
export type { Provider, Session, SessionEvent, SessionState, StartSessionInput, TaskStatus } from './types.js';
