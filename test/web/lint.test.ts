// The web dashboard's import boundary is a lint error: web/ runs in the browser
// and talks to the gateway over HTTP only (client/src/http-browser.ts), so it
// never imports daemon, gateway, CLI, proto or node: modules.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/entry.js';

const REPO = ROOT.endsWith('/dist') ? join(ROOT, '..') : ROOT;
const FILE = join(REPO, 'web', 'src', '__scratch.tsx');

describe('lint: the web dashboard import boundary', function () {
  this.timeout(120_000);
  const eslint = () => new ESLint({ cwd: REPO, overrideConfig: { languageOptions: { parserOptions: { projectService: false, project: null } }, rules: { '@typescript-eslint/no-floating-promises': 'off' } } });

  for (const code of [
    "import { startDaemon } from '../../daemon/src/daemon.js';\nvoid startDaemon;",
    "import { buildApp } from '../../gateway/src/app.js';\nvoid buildApp;",
    "import { runCli } from '../../cli/src/program.js';\nvoid runCli;",
    "import { SessionServiceClient } from '../../proto/gen/loki/v1/sessions.js';\nvoid SessionServiceClient;",
    "import { readFileSync } from 'node:fs';\nvoid readFileSync;",
  ]) {
    it(`rejects ${code.split('\n')[0]}`, async () => {
      const [r] = await eslint().lintText(code + '\n', { filePath: FILE });
      assert.ok((r?.messages ?? []).some((m) => m.ruleId === 'no-restricted-imports'), JSON.stringify(r?.messages));
    });
  }

  it('accepts the browser transport, client types and the display escaper', async () => {
    const code = "import { BrowserLokiClient } from '../../client/src/http-browser.js';\nimport { escapeForDisplay } from '../../common/src/display.js';\nvoid BrowserLokiClient;\nvoid escapeForDisplay;";
    const [r] = await eslint().lintText(code + '\n', { filePath: FILE });
    assert.deepEqual((r?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports'), []);
  });
});
