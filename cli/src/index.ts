export { buildProgram, runCli } from './program.js';
export { adminSocketPath, openClient, resolveConnection, withClient } from './context.js';
export type { CliContext, Connection, GlobalOptions } from './context.js';
