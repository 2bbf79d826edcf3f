// What SandboxManager checks in a request before it reaches the driver: sandbox
// refs, argv and env (sizes, NUL bytes, variable names).
import { LokiError, checkRef } from '../../../common/src/index.js';

export const SANDBOX_ID_RE = /^sbx-[0-9a-f]{12}$/;
export const SANDBOX_NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_ARGV_BYTES = 128 * 1024;
const MAX_ENV_ENTRIES = 128;

export function checkArgv(field: string, argv: readonly string[]): void {
  let total = 0;
  for (const a of argv) {
    if (a.includes('\0')) throw new LokiError('invalid_argument', `${field} must not contain NUL bytes`);
    total += Buffer.byteLength(a);
  }
  if (total > MAX_ARGV_BYTES) throw new LokiError('payload_too_large', `${field} is larger than ${MAX_ARGV_BYTES} bytes`);
}

export function checkEnv(env: Record<string, string>): void {
  const keys = Object.keys(env);
  if (keys.length > MAX_ENV_ENTRIES) throw new LokiError('invalid_argument', `env has more than ${MAX_ENV_ENTRIES} entries`);
  for (const k of keys) {
    if (!ENV_KEY_RE.test(k)) throw new LokiError('invalid_argument', `env key ${JSON.stringify(k.slice(0, 64))} is not a valid variable name`);
    if (env[k]!.includes('\0')) throw new LokiError('invalid_argument', `env ${k} must not contain NUL bytes`);
  }
  checkArgv('env', Object.values(env));
}

export function validateRef(id: string): void {
  if (!id) throw new LokiError('invalid_argument', 'id is required (a sandbox id sbx-… or a name)');
  checkRef('sandbox', id);
}
