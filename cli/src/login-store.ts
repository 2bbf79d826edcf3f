// `loki login` state: the gateway URL and token, stored like `gh auth login`
// does, in the user's config directory with mode 0600 (directory 0700).
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { LokiError } from '../../common/src/index.js';

export interface StoredLogin {
  url: string;
  token: string;
  ca_file?: string;
  saved_at: string;
}

export function loginFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LOKI_CONFIG_DIR) return join(env.LOKI_CONFIG_DIR, 'login.json');
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'loki', 'login.json');
}

export function readLogin(env: NodeJS.ProcessEnv = process.env): StoredLogin | undefined {
  const file = loginFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // A token file others can read is a leaked token: refuse it rather than use it.
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) throw new LokiError('permission_denied', `${file} is readable by other users (mode ${(statSync(file).mode & 0o777).toString(8)}); run \`chmod 600 ${file}\` or \`loki logout\``);
  try {
    const v = JSON.parse(text) as Partial<StoredLogin>;
    if (typeof v.url === 'string' && typeof v.token === 'string') return { url: v.url, token: v.token, ...(typeof v.ca_file === 'string' ? { ca_file: v.ca_file } : {}), saved_at: String(v.saved_at ?? '') };
  } catch {
    // fall through
  }
  throw new LokiError('invalid_config', `${file} is not a loki login file; remove it with \`loki logout\``);
}

export function writeLogin(login: StoredLogin, env: NodeJS.ProcessEnv = process.env): string {
  const file = loginFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Create with 0600 directly (no window with a wider mode), then fix an older file's mode.
  writeFileSync(file, JSON.stringify(login, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

export function removeLogin(env: NodeJS.ProcessEnv = process.env): boolean {
  const file = loginFile(env);
  try {
    statSync(file);
  } catch {
    return false;
  }
  rmSync(file, { force: true });
  return true;
}
