// Where the bundled agent-runner lives and where a sandbox finds it; how it gets
// in is the sandbox driver's business (SandboxDriver.runnerTransport).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunnerBundle } from '../sandbox/types.js';

/** The bundle's one file, in `<installRoot>/dist/agent-runner/`. */
export const AGENT_RUNNER_ENTRY = 'loki-agent-runner.cjs';
export const AGENT_RUNNER_IN_SANDBOX = '/opt/loki/agent-runner.cjs';
/** The sandbox's main process for a session. */
export const AGENT_RUNNER_COMMAND: readonly string[] = ['node', AGENT_RUNNER_IN_SANDBOX];

/**
 * The bundle sits in `<installRoot>/dist/agent-runner/`. Compiled, this module
 * is `<installRoot>/dist/daemon/src/agent/`; run from source (tsx) it is
 * `<installRoot>/daemon/src/agent/`.
 */
function defaultDistDir(): string {
  const self = fileURLToPath(import.meta.url);
  const up3 = resolve(dirname(self), '..', '..', '..');
  return self.endsWith('.ts') ? join(up3, 'dist') : up3;
}

/** The runner bundle sessions run; `installRoot` overrides the directory holding `dist/`. Whether it exists is checked at each start. */
export function agentRunnerBundle(installRoot?: string): RunnerBundle {
  return { bundleDir: join(installRoot ? join(installRoot, 'dist') : defaultDistDir(), 'agent-runner'), entry: AGENT_RUNNER_ENTRY, pathInSandbox: AGENT_RUNNER_IN_SANDBOX };
}

