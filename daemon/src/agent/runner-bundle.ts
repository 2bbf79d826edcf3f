// Where the bundled agent-runner lives and where a sandbox finds it; how it gets
// in is the sandbox driver's business (SandboxDriver.runnerTransport).
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
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


/**
 * The bundle copied into `dir` (under LOKI_HOME), for a lokid that runs in a container: the engine
 * resolves bind sources on the host, where the image's install directory does not exist (it would
 * make an empty directory there and the sandbox would find no runner), while LOKI_HOME is mounted
 * at the same path on both sides. Written aside and renamed over the old copy: a running sandbox
 * keeps the file it was started with. A missing bundle is left to the start-time check, which
 * names the install's path.
 */
export function stageRunnerBundle(b: RunnerBundle, dir: string): RunnerBundle {
  const from = join(b.bundleDir, b.entry);
  if (!existsSync(from)) return b;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const to = join(dir, b.entry);
  const tmp = `${to}.${process.pid}.tmp`;
  copyFileSync(from, tmp);
  chmodSync(tmp, 0o644);
  renameSync(tmp, to);
  return { ...b, bundleDir: dir };
}
