// First run of `loki up`: mint an admin token for the local CLI so the operator
// can talk to the gateway (`--url/--token`) without a chicken-and-egg step.
import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { TokenStore } from './store.js';

export const BOOTSTRAP_TOKEN_NAME = 'local-admin';

export interface BootstrapOptions {
  /** Owner recorded on the token (counts toward tokens.max_active_per_user). Default `local:<uid>`. */
  owner?: string;
  /**
   * Records the new token in the audit log before it is stored. When it throws, the token is never
   * stored and no file is left: as with `TokenService.Generate`, a token whose creation could not be
   * audited is never handed out.
   */
  audit?: (token: { id: string; name: string; owner: string }) => Promise<void>;
}

/**
 * Creates the `local-admin` token and writes its secret to `path` (mode 0600)
 * when there is no active admin token and no token file yet. Returns the secret
 * so `loki up` can print it once; returns undefined when nothing was created.
 */
export async function ensureBootstrapAdminToken(store: TokenStore, path: string, opts: BootstrapOptions = {}): Promise<string | undefined> {
  if (await store.hasActiveAdminToken()) return undefined;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    // O_EXCL: two concurrent `loki up` runs cannot both mint a token, and an
    // existing file (even one we cannot read) is never overwritten.
    // O_NOFOLLOW: a planted symlink cannot redirect the secret elsewhere.
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  let tokenId: string | undefined;
  try {
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    // Never expires: it is the operator's own key on their own machine, kept
    // 0600; rotating it is `token revoke local-admin`, delete the file, `loki up`.
    // Planned, audited, then stored (as TokenService.Generate does): a crash in between never
    // leaves a working token the audit log does not mention.
    const planned = await store.plan({
      name: BOOTSTRAP_TOKEN_NAME,
      role: 'admin',
      expiresDays: -1,
      owner: opts.owner ?? `local:${uid}`,
    });
    const { token, secret } = planned;
    await opts.audit?.({ id: token.id, name: token.name, owner: token.owner });
    await store.commit(planned);
    tokenId = token.id;
    writeSync(fd, secret + '\n');
    fsyncSync(fd);
    return secret;
  } catch (err) {
    // An admin token whose secret never reached the file would block the next
    // bootstrap forever; take it back out.
    if (tokenId) await store.revoke(tokenId);
    unlinkSync(path);
    throw err;
  } finally {
    closeSync(fd);
  }
}
