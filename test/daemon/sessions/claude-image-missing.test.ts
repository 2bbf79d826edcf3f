// A claude session on a host without the Claude Code image: the refusal must say
// how to build that image (`--with-claude`), not the base image, which has no
// Claude Code and would leave the operator where they started.
import assert from 'node:assert/strict';
import { LokiError } from '../../../common/src/index.js';
import { ADMIN, makeRepo, removeDir, startSessionDaemon, type SessionDaemon } from './helpers.js';

describe('a claude session without the Claude Code image', function () {
  this.timeout(60_000);
  let sd: SessionDaemon | undefined;
  let repo: string;
  before(async () => {
    repo = makeRepo();
    sd = await startSessionDaemon({ sessions: { claude_image: 'loki-sandbox:h12-no-such-claude-image' } });
  });
  after(async () => {
    await sd?.cleanup();
    if (repo) removeDir(repo);
  });

  it('fails to start with the command that builds the Claude Code image', async () => {
    const m = sd!.feature.manager;
    await assert.rejects(
      m.start(ADMIN, { prd: '', prompt: 'hi', provider: 'claude', plan: '', profile: '', autonomy: '', project: '', projectPath: repo, model: '', baseUrl: '', maxIterations: 1, network: false }),
      (err: unknown) => {
        assert.ok(err instanceof LokiError, String(err));
        assert.equal(err.code, 'image_not_found');
        assert.match(err.message, /image loki-sandbox:h12-no-such-claude-image not found; build it with `loki sandbox build --with-claude`/);
        return true;
      },
    );
  });
});
