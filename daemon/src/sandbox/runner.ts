// The runner bundle as every driver takes it (RunnerBundle in types.ts): the
// checks before it is carried into a sandbox, whatever carries it.
import { statSync } from 'node:fs';
import { isAbsolute, join, posix } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import type { RunnerBundle } from './types.js';

/**
 * The bundle's host file. The bundle is the daemon's own (never a request's),
 * so a malformed one is a configuration error; a missing file is the usual
 * "not built yet". A directory at the file's path is refused too: carried in,
 * it would shadow the runner with something that is not it.
 */
export function runnerBundleFile(b: RunnerBundle): string {
  if (!isAbsolute(b.bundleDir) || b.bundleDir.includes('\0')) {
    throw new LokiError('invalid_config', `the agent-runner bundle directory "${b.bundleDir.slice(0, 200)}" must be an absolute path`);
  }
  if (!b.entry || b.entry === '.' || b.entry === '..' || /[/\\\0]/.test(b.entry)) {
    throw new LokiError('invalid_config', `the agent-runner bundle entry "${b.entry.slice(0, 64)}" must be a plain file name`);
  }
  const p = b.pathInSandbox;
  if (!p.startsWith('/') || p === '/' || p.endsWith('/') || p.includes('\0') || posix.normalize(p) !== p) {
    throw new LokiError('invalid_config', `the agent-runner path in the sandbox "${p.slice(0, 200)}" must be an absolute, normalized file path`);
  }
  const file = join(b.bundleDir, b.entry);
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new LokiError('failed_precondition', `the agent-runner bundle ${file} is missing; run \`npm run build\``);
  }
  if (!isFile) throw new LokiError('failed_precondition', `the agent-runner bundle ${file} is not a plain file`);
  return file;
}
