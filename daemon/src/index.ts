export { startDaemon, instanceId } from './daemon.js';
export type { StartDaemonOptions, DaemonHandle } from './daemon.js';
export { loadDaemonConfig, daemonConfigSchema, daemonEnvBindings } from './config.js';
export type { DaemonConfig, SandboxConfig } from './config.js';
export { SandboxManager } from './sandbox/manager.js';
export { DockerSandboxDriver } from './sandbox/docker-driver.js';
export type { SandboxDriver, SandboxInfo } from './sandbox/types.js';
export { createNotifier } from './systemd.js';
