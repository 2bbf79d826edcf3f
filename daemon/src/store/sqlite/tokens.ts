// TokenRepo on SQLite: the `tokens` table, keyed for verification by the
// SHA-256 of the secret (unique index).
import type { Statement } from 'better-sqlite3';
import type { Role, Scope } from '../../../../common/src/index.js';
import type { TokenRecord, TokenRepo } from '../../tokens/store.js';
import type { Db } from '../db.js';

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

function toRecord(r: Row): TokenRecord {
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

export class SqliteTokenRepo implements TokenRepo {
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

  constructor(private readonly db: Db) {
    const unrevokedActive = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)';
    this.q = {
      byHash: db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE hash = ?`),
      byId: db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE id = ?`),
      byName: db.prepare(`SELECT ${COLUMNS} FROM tokens WHERE name = ? AND revoked_at IS NULL`),
      countActive: db.prepare(`SELECT COUNT(*) AS n FROM tokens WHERE owner = ? AND ${unrevokedActive}`),
      insert: db.prepare(`INSERT INTO tokens (${COLUMNS}) VALUES (@id, @name, @hash, @scopes, @role, @owner, @created_at, @expires_at, NULL, NULL)`),
      revoke: db.prepare('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      touch: db.prepare('UPDATE tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?'),
      all: db.prepare(`SELECT ${COLUMNS} FROM tokens ORDER BY created_at, rowid`),
      activeAdmin: db.prepare(`SELECT id FROM tokens WHERE scopes = '*' AND ${unrevokedActive} LIMIT 1`),
    };
  }

  // Synchronous inside; `async` only to meet the (networked-store-ready) interface.
  async byHash(hash: Buffer): Promise<{ token: TokenRecord; hash: Buffer } | undefined> {
    const r = this.q.byHash.get(hash);
    return r ? { token: toRecord(r), hash: r.hash } : undefined;
  }

  async byId(id: string): Promise<TokenRecord | undefined> {
    const r = this.q.byId.get(id);
    return r ? toRecord(r) : undefined;
  }

  async byName(name: string): Promise<TokenRecord | undefined> {
    return this.byNameSync(name);
  }

  async insertChecked(t: TokenRecord, hash: Buffer, now: number, check: (held: TokenRecord | undefined, activeOfOwner: number) => void): Promise<void> {
    // IMMEDIATE so the count and the insert are one atomic step even if another
    // process shares the database file. `check` runs inside it, synchronously:
    // better-sqlite3 commits when the function returns, so nothing here may await.
    this.db
      .transaction(() => {
        check(this.byNameSync(t.name), this.q.countActive.get(t.owner, now)!.n);
        this.q.insert.run({ id: t.id, name: t.name, hash, scopes: t.scopes.join(','), role: t.role, owner: t.owner, created_at: t.createdAt, expires_at: t.expiresAt });
      })
      .immediate();
  }

  async revoke(id: string, at: number): Promise<void> {
    this.q.revoke.run(at, id);
  }

  async touch(batch: readonly (readonly [id: string, at: number])[]): Promise<void> {
    this.db.transaction(() => {
      for (const [id, at] of batch) this.q.touch.run(at, id);
    })();
  }

  async all(): Promise<TokenRecord[]> {
    return this.q.all.all().map(toRecord);
  }

  async hasActiveAdmin(now: number): Promise<boolean> {
    return this.q.activeAdmin.get(now) !== undefined;
  }

  private byNameSync(name: string): TokenRecord | undefined {
    const r = this.q.byName.get(name);
    return r ? toRecord(r) : undefined;
  }
}
