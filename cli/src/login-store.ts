// `loki login` state: the gateway URL and token, stored like `gh auth login`
// does, in the user's config directory with mode 0600 (directory 0700).
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, statSync } from 'node:fs';
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
  // A new file, created 0600 (no window with a wider mode), renamed over the old one: an older,
  // wider login.json may be held open by another user, who must not read the new token through it.
  const tmp = join(dirname(file), `.login-${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeFileSync(fd, JSON.stringify(login, null, 2) + '\n');
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
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
