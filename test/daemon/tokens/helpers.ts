// Real parts for token tests: a temp LOKI_HOME, a real SQLite file, and a pino
// logger WITHOUT Loki's scrubber, so a test that greps the log for a secret
// fails if our code ever logs one (the scrubber would otherwise hide it).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Db } from '../../../daemon/src/store/db.js';
import { openSqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { TokenStore } from '../../../daemon/src/tokens/store.js';
import { TOKENS_CONFIG_DEFAULTS, type TokensConfig } from '../../../daemon/src/tokens/config.js';

export interface Fixture {
  home: string;
  dbPath: string;
  db: Db;
  store: TokenStore;
  log: Logger;
  logLines: string[];
  clock: { now: number };
  cleanup(): Promise<void>;
}

export function makeFixture(config: Partial<TokensConfig> = {}): Fixture {
  const home = mkdtempSync(join(tmpdir(), 'loki-tokens-'));
  const dbPath = join(home, 'state', 'loki.db');
  const sq = openSqliteStore(dbPath);
  const db = sq.db;
  const logLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void logLines.push(l) });
  const clock = { now: Date.UTC(2026, 0, 1) };
  const store = new TokenStore({ repo: sq.tokens, config: { ...TOKENS_CONFIG_DEFAULTS, ...config }, log, now: () => clock.now });
  return {
    home,
    dbPath,
    db,
    store,
    log,
    logLines,
    clock,
    async cleanup() {
      await store.close();
      if (db.open) db.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export const DAY = 86_400_000;
