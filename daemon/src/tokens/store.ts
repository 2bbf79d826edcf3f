// API tokens in the daemon's SQLite store. Only SHA-256(secret) is kept; the
// secret exists in memory for the one Generate call that returns it. Verify is
// read-only: last-used timestamps are collected in memory and written in one
// batch every few seconds and at close, so a flood of API requests never turns
// into a flood of fsyncs (the store runs with synchronous=FULL).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { LokiError, type Logger, type Role, type Scope } from '../../../common/src/index.js';
import { migrate, type Db, type Migration } from '../store/db.js';
import type { TokensConfig } from './config.js';
import { resolveGrant } from './grant.js';
import { generateSecret, hashSecret, isWellFormed } from './secret.js';

export const TOKEN_MIGRATIONS: readonly Migration[] = [
  {
    module: 'tokens',
    version: 1,
    sql: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash BLOB NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        role TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
      CREATE UNIQUE INDEX tokens_unrevoked_name ON tokens(name) WHERE revoked_at IS NULL;
      CREATE INDEX tokens_unrevoked_owner ON tokens(owner) WHERE revoked_at IS NULL;
    `,
  },
];

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
  db: Db;
  config: TokensConfig;
  log: Logger;
  now?: () => number;
}

interface Row {
  id: string;
  name: string;
  hash: Buffer;
  scopes: string;
  role: string;
  owner: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

const COLUMNS = 'id, name, hash, scopes, role, owner, created_at, expires_at, revoked_at, last_used_at';

export function tokenStatus(t: TokenRecord, now: number): TokenStatus {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && t.expiresAt <= now) return 'expired';
  return 'active';
}

export class TokenStore {
  private readonly db: Db;
  private readonly config: TokensConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  /** token id → most recent use not yet written. */
  private readonly pendingLastUsed = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  private revoked = 0;
  private readonly q: {
    byHash: Statement<[Buffer], Row>;
    byId: Statement<[string], Row>;
    byName: Statement<[string], Row>;
    countActive: Statement<[string, number], { n: number }>;
    insert: Statement<[Record<string, unknown>]>;
    revoke: Statement<[number, string]>;
    touch: Statement<[number, string]>;
    all: Statement<[], Row>;
    activeAdmin: Statement<[number], { id: string }>;
  };

  constructor(opts: TokenStoreOptions) {
    if (!opts.db || !opts.config || !opts.log) throw new Error('TokenStore needs db, config and log');
    this.db = opts.db;
    this.config = opts.config;
    this.log = opts.log.child({ component: 'tokens' });
    this.now = opts.now ?? Date.now;
    migrate(this.db, TOKEN_MIGRATIONS);
    const unrevokedActive = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)';
    this.q = {
      byHash: this.db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE hash = ?`),
      byId: this.db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`),
      byName: this.db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE name = ? AND revoked_at IS NULL`),
      countActive: this.db.prepare(`SELECT COUNT(*) AS n FROM tokens WHERE owner = ? AND ${unrevokedActive}`),
      insert: this.db.prepare(
        `INSERT INTO tokens (${COLUMNS}) VALUES (@id, @name, @hash, @scopes, @role, @owner, @created_at, @expires_at, NULL, NULL)`,
      ),
      revoke: this.db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      touch: this.db.prepare('UPDATE tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?'),
      all: this.db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at, rowid`),
      activeAdmin: this.db.prepare(`SELECT id FROM tokens WHERE scopes = '*' AND ${unrevokedActive} LIMIT 1`),
    };
    this.timer = setInterval(() => this.flushLastUsed(), this.config.last_used_flush_ms);
    this.timer.unref();
  }

  /** Creates a token and returns its one and only plaintext copy. */
  generate(input: GenerateInput): { token: TokenRecord; secret: string } {
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
    // IMMEDIATE so the count and the insert are one atomic step even if another
    // process shares the database file.
    this.db
      .transaction(() => {
        const held = this.q.byName.get(name);
        if (held) {
          const why = tokenStatus(rowToRecord(held), now) === 'expired' ? ' (expired; revoke it to reuse the name)' : '';
          throw new LokiError('token_name_in_use', `a token named "${name}" already exists${why}`);
        }
        const { n } = this.q.countActive.get(input.owner, now)!;
        if (n >= this.config.max_active_per_user) {
          throw new LokiError(
            'token_limit_reached',
            `${input.owner} already has ${n} active tokens (tokens.max_active_per_user = ${this.config.max_active_per_user}); revoke one first`,
          );
        }
        this.q.insert.run({
          id: token.id,
          name,
          hash: hashSecret(secret),
          scopes: token.scopes.join(','),
          role: token.role,
          owner: token.owner,
          created_at: now,
          expires_at: expiresAt,
        });
      })
      .immediate();
    this.log.info({ token_id: token.id, token_name: name, owner: token.owner, scopes: token.scopes }, 'token generated');
    return { token, secret };
  }

  /** Resolves a presented secret. Read-only: never writes to the database. */
  verify(secret: string): VerifyResult {
    // Reject before hashing: a string that is not even shaped like a token (or
    // fails its checksum) is a typo or a probe, and saying so leaks nothing an
    // attacker does not already know. Everything that passes takes the same path.
    if (typeof secret !== 'string' || !isWellFormed(secret)) return { ok: false, reason: 'malformed' };
    const hash = hashSecret(secret);
    // The indexed lookup is keyed by a hash of the secret, so its timing can only
    // reveal something about SHA-256 outputs, not the secret; the final equality
    // is still constant-time so no byte-by-byte comparison of stored material happens in JS.
    const row = this.q.byHash.get(hash);
    if (!row || row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) return { ok: false, reason: 'unknown' };
    const token = rowToRecord(row);
    const now = this.now();
    const status = tokenStatus(token, now);
    if (status !== 'active') return { ok: false, reason: status };
    this.pendingLastUsed.set(token.id, now);
    const prev = token.lastUsedAt ?? 0;
    token.lastUsedAt = Math.max(prev, now);
    return { ok: true, token };
  }

  /** All tokens (or only active ones), oldest first, with unflushed last-used times applied. */
  list(opts: { all?: boolean } = {}): TokenRecord[] {
    const now = this.now();
    return this.q
      .all.all()
      .map((r) => this.withPending(rowToRecord(r)))
      .filter((t) => opts.all || tokenStatus(t, now) === 'active');
  }

  /** Revokes by id or by the name of an unrevoked token. Revoking twice returns the same record. */
  revoke(nameOrId: string): TokenRecord {
    const key = nameOrId.trim();
    if (!TOKEN_ID.test(key) && !TOKEN_NAME.test(key)) {
      throw new LokiError('invalid_argument', `not a token name or id: ${JSON.stringify(nameOrId)}`);
    }
    const now = this.now();
    const row = TOKEN_ID.test(key) ? this.q.byId.get(key) : this.q.byName.get(key);
    if (!row) throw new LokiError('token_not_found', `no token named or with id "${key}"`);
    if (row.revoked_at === null) this.q.revoke.run(now, row.id);
    this.revoked++;
    this.pendingLastUsed.delete(row.id);
    const revoked = rowToRecord(this.q.byId.get(row.id)!);
    this.log.info({ token_id: revoked.id, token_name: revoked.name }, 'token revoked');
    return revoked;
  }

  /** Changes on every revocation: a verification cached before it is no longer valid. */
  get revision(): number {
    return this.revoked;
  }

  hasActiveAdminToken(): boolean {
    return this.q.activeAdmin.get(this.now()) !== undefined;
  }

  /** Writes the batched last-used times in one transaction. */
  flushLastUsed(): void {
    if (this.pendingLastUsed.size === 0) return;
    const batch = [...this.pendingLastUsed];
    this.pendingLastUsed.clear();
    try {
      this.db.transaction(() => {
        for (const [id, at] of batch) this.q.touch.run(at, id);
      })();
    } catch (err) {
      // Last-used is informational; losing one batch must not break verification.
      this.log.warn({ err, count: batch.length }, 'could not record token last-used times');
    }
  }

  /** Stops the flush timer and writes what is pending. Does not close the database (its owner does). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.flushLastUsed();
  }

  private withPending(t: TokenRecord): TokenRecord {
    const p = this.pendingLastUsed.get(t.id);
    if (p !== undefined && p > (t.lastUsedAt ?? 0)) t.lastUsedAt = p;
    return t;
  }
}

function rowToRecord(r: Row): TokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as Role | '',
    scopes: r.scopes === '' ? [] : (r.scopes.split(',') as Scope[]),
    owner: r.owner,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
  };
}
