// API tokens in the daemon's SQLite store. Only SHA-256(secret) is kept; the
// secret exists in memory for the one Generate call that returns it. Verify is
// read-only: last-used timestamps are collected in memory and written in one
// batch every few seconds and at close, so a flood of API requests never turns
// into a flood of fsyncs (the store runs with synchronous=FULL). The SQLite
// implementation of TokenRepo is store/sqlite/tokens.ts.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LokiError, type Logger, type Role, type Scope } from '../../../common/src/index.js';
import type { TokensConfig } from './config.js';
import { resolveGrant } from './grant.js';
import { generateSecret, hashSecret, isWellFormed } from './secret.js';

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN_ID = /^tok-[0-9a-f]{12}$/;
const MAX_EXPIRES_DAYS = 3650;
const DAY_MS = 86_400_000;

export interface TokenRecord {
  id: string;
  name: string;
  role: Role | '';
  scopes: Scope[];
  owner: string;
  createdAt: number;
  /** null = never expires. */
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export type TokenStatus = 'active' | 'expired' | 'revoked';

export interface GenerateInput {
  name: string;
  role?: string;
  scopes?: readonly string[];
  /** undefined or 0 = tokens.default_expiration_days; -1 = never. */
  expiresDays?: number;
  owner: string;
}

/** Why a presented secret was refused: for metrics and audit only, never for the HTTP client. */
export type RejectReason = 'malformed' | 'unknown' | 'expired' | 'revoked';
export type VerifyResult = { ok: true; token: TokenRecord } | { ok: false; reason: RejectReason };

export interface TokenStoreOptions {
  repo: TokenRepo;
  config: TokensConfig;
  log: Logger;
  now?: () => number;
}

/**
 * Where tokens are kept: records and the SHA-256 of each secret, never the secret.
 * Promise-returning, the shape a networked store (Postgres) needs; the SQLite
 * implementation answers synchronously inside.
 */
export interface TokenRepo {
  byHash(hash: Buffer): Promise<{ token: TokenRecord; hash: Buffer } | undefined>;
  byId(id: string): Promise<TokenRecord | undefined>;
  /** The unrevoked token of this name. */
  byName(name: string): Promise<TokenRecord | undefined>;
  /**
   * Inserts after `check` passes, as one atomic step even against another process
   * sharing the store: `check` sees the unrevoked token holding the name and the
   * owner's active-token count, and throws to refuse (the insert is then rolled back
   * and the promise rejects with what `check` threw).
   *
   * `check` is synchronous on purpose and runs inside the repository's transaction,
   * between its reads and its insert. A transaction cannot stay open across an
   * `await` on SQLite (better-sqlite3 commits when the function returns), and on a
   * networked store a decision made outside the transaction would be stale by the
   * time the insert lands: two concurrent creates could both see the name free or
   * the owner below the limit. The check is a pure decision on what was read, so
   * it never needs to wait for anything.
   */
  insertChecked(t: TokenRecord, hash: Buffer, now: number, check: (held: TokenRecord | undefined, activeOfOwner: number) => void): Promise<void>;
  revoke(id: string, at: number): Promise<void>;
  /** Writes last-used times, all or none. */
  touch(batch: readonly (readonly [id: string, at: number])[]): Promise<void>;
  /** Oldest first. */
  all(): Promise<TokenRecord[]>;
  hasActiveAdmin(now: number): Promise<boolean>;
}

export function tokenStatus(t: TokenRecord, now: number): TokenStatus {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && t.expiresAt <= now) return 'expired';
  return 'active';
}

export class TokenStore {
  private readonly repo: TokenRepo;
  private readonly config: TokensConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  /** token id → most recent use not yet written. */
  private readonly pendingLastUsed = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private revoked = 0;

  constructor(opts: TokenStoreOptions) {
    if (!opts.repo || !opts.config || !opts.log) throw new Error('TokenStore needs repo, config and log');
    this.repo = opts.repo;
    this.config = opts.config;
    this.log = opts.log.child({ component: 'tokens' });
    this.now = opts.now ?? Date.now;
    // flushLastUsed never rejects (a failed batch is logged), so nothing is left unhandled.
    this.timer = setInterval(() => void this.flushLastUsed(), this.config.last_used_flush_ms);
    this.timer.unref();
  }

  /** Creates a token and returns its one and only plaintext copy. */
  async generate(input: GenerateInput): Promise<{ token: TokenRecord; secret: string }> {
    const planned = await this.plan(input);
    await this.commit(planned);
    return planned;
  }

  /**
   * A token as `generate` would create it, checked (name, limit) but not stored: the caller can make its
   * audit entry durable first and then `commit` it, so a crash in between never leaves a working token
   * nobody has the secret of and the audit log never mentions. The checks are repeated atomically by commit.
   */
  async plan(input: GenerateInput): Promise<{ token: TokenRecord; secret: string }> {
    const name = input.name.trim();
    if (!TOKEN_NAME.test(name)) {
      throw new LokiError(
        'invalid_argument',
        `invalid token name ${JSON.stringify(input.name)}: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      );
    }
    // `revoke NAME|ID` must never be ambiguous.
    if (TOKEN_ID.test(name)) throw new LokiError('invalid_argument', `a token name cannot look like a token id: ${name}`);
    const grant = resolveGrant(input.role ?? '', input.scopes ?? [], this.config.default_role);
    const days = input.expiresDays ?? 0;
    if (!Number.isInteger(days) || days < -1 || days > MAX_EXPIRES_DAYS) {
      throw new LokiError('invalid_argument', `expires_days must be 1-${MAX_EXPIRES_DAYS}, 0 for the default or -1 for never, got ${days}`);
    }
    const now = this.now();
    const effectiveDays = days === 0 ? this.config.default_expiration_days : days;
    const expiresAt = effectiveDays === -1 ? null : now + effectiveDays * DAY_MS;
    const secret = generateSecret();
    const token: TokenRecord = {
      id: `tok-${randomBytes(6).toString('hex')}`,
      name,
      role: grant.role,
      scopes: grant.scopes,
      owner: input.owner,
      createdAt: now,
      expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    };
    this.checkInsert(name, input.owner, now, await this.repo.byName(name), (await this.repo.all()).filter((t) => t.owner === input.owner && tokenStatus(t, now) === 'active').length);
    return { token, secret };
  }

  /** Stores a planned token (its name and the owner's limit checked again, atomically). */
  async commit(planned: { token: TokenRecord; secret: string }): Promise<void> {
    const { token, secret } = planned;
    const now = this.now();
    await this.repo.insertChecked(token, hashSecret(secret), now, (held, n) => this.checkInsert(token.name, token.owner, now, held, n));
    this.log.info({ token_id: token.id, token_name: token.name, owner: token.owner, scopes: token.scopes }, 'token generated');
  }

  private checkInsert(name: string, owner: string, now: number, held: TokenRecord | undefined, activeOfOwner: number): void {
    if (held) {
      const why = tokenStatus(held, now) === 'expired' ? ' (expired; revoke it to reuse the name)' : '';
      throw new LokiError('token_name_in_use', `a token named "${name}" already exists${why}`);
    }
    if (activeOfOwner >= this.config.max_active_per_user) {
      throw new LokiError(
        'token_limit_reached',
        `${owner} already has ${activeOfOwner} active tokens (tokens.max_active_per_user = ${this.config.max_active_per_user}); revoke one first`,
      );
    }
  }

  /** Resolves a presented secret. Read-only: never writes to the database. */
  async verify(secret: string): Promise<VerifyResult> {
    // Reject before hashing: a string that is not even shaped like a token (or
    // fails its checksum) is a typo or a probe, and saying so leaks nothing an
    // attacker does not already know. Everything that passes takes the same path.
    if (typeof secret !== 'string' || !isWellFormed(secret)) return { ok: false, reason: 'malformed' };
    const hash = hashSecret(secret);
    // The indexed lookup is keyed by a hash of the secret, so its timing can only
    // reveal something about SHA-256 outputs, not the secret; the final equality
    // is still constant-time so no byte-by-byte comparison of stored material happens in JS.
    const row = await this.repo.byHash(hash);
    if (!row || row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) return { ok: false, reason: 'unknown' };
    const token = row.token;
    const now = this.now();
    const status = tokenStatus(token, now);
    if (status !== 'active') return { ok: false, reason: status };
    this.pendingLastUsed.set(token.id, now);
    const prev = token.lastUsedAt ?? 0;
    token.lastUsedAt = Math.max(prev, now);
    return { ok: true, token };
  }

  /** All tokens (or only active ones), oldest first, with unflushed last-used times applied. */
  async list(opts: { all?: boolean } = {}): Promise<TokenRecord[]> {
    const now = this.now();
    return (await this.repo.all())
      .map((t) => this.withPending(t))
      .filter((t) => opts.all || tokenStatus(t, now) === 'active');
  }

  /** Revokes by id or by the name of an unrevoked token. Revoking twice returns the same record. */
  async revoke(nameOrId: string): Promise<TokenRecord> {
    const key = nameOrId.trim();
    if (!TOKEN_ID.test(key) && !TOKEN_NAME.test(key)) {
      throw new LokiError('invalid_argument', `not a token name or id: ${JSON.stringify(nameOrId)}`);
    }
    const now = this.now();
    const t = TOKEN_ID.test(key) ? await this.repo.byId(key) : await this.repo.byName(key);
    if (!t) {
      // By name only unrevoked tokens are found; say so when the name did belong to a revoked one.
      const gone = TOKEN_ID.test(key) ? undefined : (await this.repo.all()).filter((x) => x.name === key && x.revokedAt !== null).at(-1);
      throw new LokiError('token_not_found', gone ? `no unrevoked token named "${key}": ${gone.id} with that name is already revoked` : `no token named or with id "${key}"`);
    }
    try {
      if (t.revokedAt === null) await this.repo.revoke(t.id, now);
    } finally {
      // Bumped after the write, never before: a verification that read the row
      // before the write carries the old revision and is never served from a
      // cache. Bumped even when the write reports an error, because it may still
      // have landed; a needless bump only empties a cache.
      this.revoked++;
    }
    this.pendingLastUsed.delete(t.id);
    const revoked = (await this.repo.byId(t.id))!;
    this.log.info({ token_id: revoked.id, token_name: revoked.name }, 'token revoked');
    return revoked;
  }

  /** Changes on every revocation: a verification cached before it is no longer valid. */
  get revision(): number {
    return this.revoked;
  }

  hasActiveAdminToken(): Promise<boolean> {
    return this.repo.hasActiveAdmin(this.now());
  }

  /** Writes the batched last-used times in one transaction. Never rejects. */
  async flushLastUsed(): Promise<void> {
    if (this.pendingLastUsed.size === 0) return;
    const batch = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    try {
      await this.repo.touch(batch);
    } catch (err) {
      // Last-used is informational; losing one batch must not break verification.
      this.log.warn({ err, count: batch.length }, 'could not record token last-used times');
    }
  }

  /**
   * Stops the flush timer and writes what is pending. Does not close the database
   * (its owner does, after awaiting this).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flushLastUsed();
  }

  private withPending(t: TokenRecord): TokenRecord {
    const p = this.pendingLastUsed.get(t.id);
    if (p !== undefined && p > (t.lastUsedAt ?? 0)) t.lastUsedAt = p;
    return t;
  }
}
