// Every import boundary of docs/architecture.md is a lint error, proved by
// feeding ESLint a scratch file with a violating import for each rule (and the
// type-aware rules and the cycle rule a violation of their own). A boundary
// that stops being enforced fails here, not in review.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/entry.js';

// Compiled tests run from dist/: the sources and eslint.config.js are one level up.
const REPO = ROOT.endsWith('/dist') ? join(ROOT, '..') : ROOT;

const CASES: [string, string, string][] = [
  // [file the import is in, the import, rule]
  ['cli/src/__scratch.ts', "import { buildApp } from '../../gateway/src/app.js';\nvoid buildApp;", 'no-restricted-imports'],
  ['cli/src/__scratch.ts', "import { openStore } from '../../daemon/src/store/db.js';\nvoid openStore;", 'no-restricted-imports'],
  ['cli/src/__scratch.ts', "import { SessionServiceClient } from '../../proto/gen/loki/v1/sessions.js';\nvoid SessionServiceClient;", 'no-restricted-imports'],
  ['cli/src/__scratch.ts', "import { credentials } from '@grpc/grpc-js';\nvoid credentials;", 'no-restricted-imports'],
  ['common/src/__scratch.ts', "import { x } from '../../daemon/src/main.js';\nvoid x;", 'no-restricted-imports'],
  ['common/src/__scratch.ts', "import { x } from '../../gateway/src/app.js';\nvoid x;", 'no-restricted-imports'],
  ['common/src/__scratch.ts', "import { x } from '../../cli/src/program.js';\nvoid x;", 'no-restricted-imports'],
  ['common/src/__scratch.ts', "import { x } from '../../client/src/index.js';\nvoid x;", 'no-restricted-imports'],
  ['daemon/src/__scratch.ts', "import { x } from '../../gateway/src/app.js';\nvoid x;", 'no-restricted-imports'],
  ['daemon/src/__scratch.ts', "import { x } from '../../cli/src/program.js';\nvoid x;", 'no-restricted-imports'],
  ['daemon/src/__scratch.ts', "import { x } from '../../client/src/index.js';\nvoid x;", 'no-restricted-imports'],
  ['client/src/__scratch.ts', "import { x } from '../../daemon/src/main.js';\nvoid x;", 'no-restricted-imports'],
  ['client/src/__scratch.ts', "import { x } from '../../gateway/src/app.js';\nvoid x;", 'no-restricted-imports'],
  ['client/src/__scratch.ts', "import { x } from '../../cli/src/program.js';\nvoid x;", 'no-restricted-imports'],
  ['client/src/__scratch.ts', "import Docker from 'dockerode';\nvoid Docker;", 'no-restricted-imports'],
  ['gateway/src/__scratch.ts', "import { x } from '../../daemon/src/main.js';\nvoid x;", 'no-restricted-imports'],
  ['gateway/src/__scratch.ts', "import { x } from '../../cli/src/program.js';\nvoid x;", 'no-restricted-imports'],
  ['gateway/src/__scratch.ts', "import Database from 'better-sqlite3';\nvoid Database;", 'no-restricted-imports'],
  ['agent-runner/src/__scratch.ts', "import { x } from '../../client/src/index.js';\nvoid x;", 'no-restricted-imports'],
  ['daemon/src/authz/__scratch.ts', "import { x } from '../grpc/wrap.js';\nvoid x;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/sessions/__scratch.ts', "import { requireScope } from '../grpc/caller.js';\nvoid requireScope;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/sandbox/__scratch.ts', "import { unary } from '../grpc/wrap.js';\nvoid unary;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/policy/grpc.ts', "import { requireScope } from '../grpc/caller.js';\nvoid requireScope;", '@typescript-eslint/no-restricted-imports'],
  // Only daemon.ts, grpc/ and the <feature>/grpc*.ts adapters import the transport folder.
  ['daemon/src/git/grpc.ts', "import { requireScope } from '../grpc/caller.js';\nvoid requireScope;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/git/projects.ts', "import { unary } from '../grpc/wrap.js';\nvoid unary;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/system/__scratch.ts', "import { unary } from '../grpc/wrap.js';\nvoid unary;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/policy/shell/__scratch.ts', "import { unary } from '../../grpc/wrap.js';\nvoid unary;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/main.ts', "import { listenUnix } from './grpc/listeners.js';\nvoid listenUnix;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/sessions/feature.ts', "import { unary } from '../grpc/wrap.js';\nvoid unary;", '@typescript-eslint/no-restricted-imports'],
  ['daemon/src/sessions/__scratch.ts', "import { x } from '../../../gateway/src/app.js';\nvoid x;", 'no-restricted-imports'],
];

// Type-aware rules and the cycle rule need real files in the TypeScript project; they are
// valid TypeScript, so a compiler run in the same tree meanwhile is not disturbed.
const SCRATCH = join(REPO, 'client', 'src', '__lint_scratch');
const FILES: Record<string, string> = {
  'floating.ts': 'async function f(): Promise<void> {}\nexport function g(): void {\n  f();\n}\n',
  'type-import.ts': "import { LokiError } from '../../../common/src/index.js';\nexport function h(e: LokiError): string {\n  return e.code;\n}\n",
  'cycle-a.ts': "import { b } from './cycle-b.js';\nexport const a = (n: number): number => (n > 0 ? b(n - 1) : 0);\n",
  'cycle-b.ts': "import { a } from './cycle-a.js';\nexport const b = (n: number): number => (n > 0 ? a(n - 1) : 1);\n",
};

describe('lint: the import boundaries and type-aware rules', function () {
  this.timeout(300_000);
  let imports: ESLint;
  let typed: ESLint;

  before(() => {
    mkdirSync(SCRATCH, { recursive: true });
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(SCRATCH, name), text);
    // Import restrictions need no type information: lint text directly.
    imports = new ESLint({
      cwd: REPO,
      overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } }, rules: { '@typescript-eslint/no-floating-promises': 'off' } },
    });
    typed = new ESLint({ cwd: REPO });
  });

  after(() => rmSync(SCRATCH, { recursive: true, force: true }));

  for (const [file, code, rule] of CASES.filter((c) => c[2].endsWith('no-restricted-imports'))) {
    it(`${file}: ${rule} rejects ${code.split('\n')[0]}`, async () => {
      const [r] = await imports.lintText(code + '\n', { filePath: join(REPO, file) });
      const rules = (r?.messages ?? []).map((m) => m.ruleId ?? m.message);
      assert.ok(rules.includes(rule), `expected ${rule} in ${JSON.stringify(r?.messages)}`);
    });
  }

  for (const [name, rule] of [['floating.ts', '@typescript-eslint/no-floating-promises'], ['type-import.ts', '@typescript-eslint/consistent-type-imports'], ['cycle-a.ts', 'import-x/no-cycle']] as const) {
    it(`${rule} rejects ${name}`, async () => {
      const [r] = await typed.lintFiles([join(SCRATCH, name)]);
      assert.ok((r?.messages ?? []).some((m) => m.ruleId === rule), JSON.stringify(r?.messages));
    });
  }

  it('accepts the allowed directions (cli → client, client → common and proto, gateway → client, the daemon\'s adapters → grpc/)', async () => {
    for (const [file, code] of [
      ['cli/src/__scratch.ts', "import { exitCodeFor } from '../../client/src/index.js';\nvoid exitCodeFor;"],
      ['client/src/__scratch.ts', "import { LokiError } from '../../common/src/index.js';\nimport { SessionServiceClient } from '../../proto/gen/loki/v1/sessions.js';\nvoid LokiError;\nvoid SessionServiceClient;"],
      ['gateway/src/__scratch.ts', "import { createDaemonClient } from '../../client/src/grpc/index.js';\nvoid createDaemonClient;"],
      ['daemon/src/daemon.ts', "import { listenUnix } from './grpc/listeners.js';\nvoid listenUnix;"],
      ['daemon/src/git/grpc.ts', "import { unary } from '../grpc/wrap.js';\nvoid unary;"],
      ['daemon/src/git/grpc-registry.ts', "import { unary } from '../grpc/wrap.js';\nvoid unary;"],
      ['daemon/src/agent/grpc-channels.ts', "import { withSafeDecoding } from '../grpc/decode.js';\nvoid withSafeDecoding;"],
      ['daemon/src/sessions/feature.ts', "import type { ServiceModule } from '../grpc/module.js';\nexport type M = ServiceModule;"],
    ] as const) {
      const [r] = await imports.lintText(code + '\n', { filePath: join(REPO, file) });
      assert.deepEqual((r?.messages ?? []).filter((m) => m.ruleId?.endsWith('no-restricted-imports')), [], file);
    }
  });
});
