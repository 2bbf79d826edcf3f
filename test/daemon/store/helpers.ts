// Session rows for tests that seed a store through SessionRepo (lists, pages),
// and a fresh store per test.
import { join } from 'node:path';
import type { NewSession } from '../../../daemon/src/sessions/repo.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { tempDirEach } from '../../helpers/temp.js';

/** The id of the i-th seeded session: ses-<i in 12 hex digits>, so ids sort like i. */
export const seededId = (i: number): string => `ses-${i.toString(16).padStart(12, '0')}`;

export function sessionRow(i: number, owner: string): NewSession {
  return {
    id: seededId(i),
    owner,
    provider: 'script',
    profile: 'default',
    autonomy: 'checkpoint',
    projectId: 'prj-000000000001',
    promptSource: 'inline',
    prompt: `task ${i}`,
    planJson: '[]',
    model: '',
    baseUrl: '',
    upstream: '',
    maxIterations: 10,
    network: false,
  };
}

/** Call inside `describe`: `.store` is a new SQLite store (its own directory) in every test, closed after it. */
export function storeEach(prefix: string, opts: { clock?: () => number } = {}): { readonly store: SqliteStore; readonly dir: string } {
  const dir = tempDirEach(prefix);
  const ctx = {
    store: undefined as unknown as SqliteStore,
    get dir() {
      return dir.path;
    },
  };
  beforeEach(() => {
    ctx.store = openSqliteStore(join(dir.path, 'loki.db'), opts);
  });
  afterEach(() => ctx.store.close());
  return ctx;
}
