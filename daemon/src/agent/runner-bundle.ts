// Where the bundled agent-runner lives and how it is mounted into a sandbox.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LokiError } from '../../../common/src/index.js';
import type { SandboxMount } from '../sandbox/types.js';

export const AGENT_RUNNER_BUNDLE = join('agent-runner', 'loki-agent-runner.cjs');
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

/** The read-only mount of the runner bundle; `installRoot` overrides the directory holding `dist/`. */
export function agentRunnerMount(installRoot?: string): SandboxMount {
  const hostPath = join(installRoot ? join(installRoot, 'dist') : defaultDistDir(), AGENT_RUNNER_BUNDLE);
  if (!existsSync(hostPath)) {
    throw new LokiError('failed_precondition', `the agent-runner bundle ${hostPath} is missing; run \`npm run build\``);
  }
  return { hostPath, containerPath: AGENT_RUNNER_IN_SANDBOX, readOnly: true };
}
