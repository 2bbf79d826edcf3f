// Only daemon/src/store/ and the composition root (daemon.ts) may touch SQLite:
// a scratch file elsewhere in the daemon importing better-sqlite3 or the store's
// database module must be a lint error, and the allowed places must stay clean.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { ROOT } from '../../helpers/entry.js';

const REPO = ROOT.endsWith('/dist') ? join(ROOT, '..') : ROOT;

const VIOLATIONS: [string, string][] = [
  ['daemon/src/sessions/__scratch.ts', "import Database from 'better-sqlite3';\nvoid Database;"],
  ['daemon/src/git/__scratch.ts', "import { openDatabase } from '../store/db.js';\nvoid openDatabase;"],
  ['daemon/src/git/__scratch.ts', "import { SqliteSessionRepo } from '../store/sqlite/sessions-async.js';\nvoid SqliteSessionRepo;"],
  ['daemon/src/policy/__scratch.ts', "import type { Db } from '../store/db.js';\nexport type X = Db;"],
  ['daemon/src/tokens/grpc.ts', "import Database from 'better-sqlite3';\nvoid Database;"],
  ['daemon/src/authz/__scratch.ts', "import Database from 'better-sqlite3';\nvoid Database;"],
  ['daemon/src/grpc/__scratch.ts', "import { openSqliteStore } from '../store/sqlite/index.js';\nvoid openSqliteStore;"],
];

const ALLOWED: [string, string][] = [
  ['daemon/src/store/sqlite/__scratch.ts', "import Database from 'better-sqlite3';\nimport { openDatabase } from '../db.js';\nvoid Database;\nvoid openDatabase;"],
  ['daemon/src/daemon.ts', "import { openSqliteStore } from './store/sqlite/index.js';\nvoid openSqliteStore;"],
];

describe('lint: only the store touches SQLite', function () {
  this.timeout(300_000);
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({
      cwd: REPO,
      overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } }, rules: { '@typescript-eslint/no-floating-promises': 'off' } },
    });
  });

  for (const [file, code] of VIOLATIONS) {
    it(`rejects in ${file}: ${code.split('\n')[0]}`, async () => {
      const [r] = await eslint.lintText(code + '\n', { filePath: join(REPO, file) });
      const hits = (r?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports');
      assert.ok(hits.some((m) => /only daemon\/src\/store\//.test(m.message)), `expected the store boundary in ${JSON.stringify(r?.messages)}`);
    });
  }

  for (const [file, code] of ALLOWED) {
    it(`allows in ${file}: ${code.split('\n')[0]}`, async () => {
      const [r] = await eslint.lintText(code + '\n', { filePath: join(REPO, file) });
      assert.deepEqual((r?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports'), []);
    });
  }
});
