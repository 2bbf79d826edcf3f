export { buildProgram, runCli } from './program.js';
export type { CliContext } from './program.js';
export { connectDaemon, call, fromServiceError, adminSocketPath } from './client.js';
export type { DaemonConnection, GlobalOptions } from './client.js';
