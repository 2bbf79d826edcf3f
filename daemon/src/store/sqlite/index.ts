// The SQLite store: opens the database, applies the one migration list and
// builds each feature's repository on it. Only the composition root
// (daemon.ts) and tests hold this; features get their repository alone.
import { migrate, openDatabase, type Db } from '../db.js';
import { SqliteApprovalRepo } from './approvals.js';
import { SqliteLearningRepo } from './learnings.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteProjectRepo } from './projects.js';
import { SqliteSessionRepo } from './sessions-async.js';
import { SqliteTokenRepo } from './tokens.js';
import { SqliteWorkspaceRepo } from './workspaces.js';

export interface SqliteStore {
  sessions: SqliteSessionRepo;
  workspaces: SqliteWorkspaceRepo;
  projects: SqliteProjectRepo;
  tokens: SqliteTokenRepo;
  approvals: SqliteApprovalRepo;
  learnings: SqliteLearningRepo;
  /** The database file's handle, for the store's own tests and benchmarks (seeding, raw checks). */
  readonly db: Db;
  close(): void;
}

export function openSqliteStore(path: string, opts: { clock?: () => number } = {}): SqliteStore {
  const db = openDatabase(path);
  try {
    migrate(db, MIGRATIONS);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    sessions: new SqliteSessionRepo(db, opts.clock),
    workspaces: new SqliteWorkspaceRepo(db),
    projects: new SqliteProjectRepo(db),
    tokens: new SqliteTokenRepo(db),
    approvals: new SqliteApprovalRepo(db),
    learnings: new SqliteLearningRepo(db),
    db,
    close: () => db.close(),
  };
}

export { MIGRATIONS } from './migrations.js';
export { SqliteApprovalRepo, SqliteLearningRepo, SqliteProjectRepo, SqliteSessionRepo, SqliteTokenRepo, SqliteWorkspaceRepo };
