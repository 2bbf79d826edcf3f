import assert from 'node:assert/strict';
import { ghRepoFromUrl, manualPrCommands, shellQuote } from '../../../daemon/src/git/pr.js';

describe('pull request helpers', () => {
  it('derives GH_REPO from https, ssh and scp-style GitHub remotes and nothing else', () => {
    assert.equal(ghRepoFromUrl('https://github.com/acme/demo.git'), 'github.com/acme/demo');
    assert.equal(ghRepoFromUrl('https://x-token@github.example:8443/acme/demo'), 'github.example/acme/demo');
    assert.equal(ghRepoFromUrl('ssh://git@github.com/acme/demo.git'), 'github.com/acme/demo');
    assert.equal(ghRepoFromUrl('git@github.com:acme/demo.git'), 'github.com/acme/demo');
    assert.equal(ghRepoFromUrl('/srv/git/demo.git'), undefined);
    assert.equal(ghRepoFromUrl('file:///srv/git/demo.git'), undefined);
    assert.equal(ghRepoFromUrl('https://github.com/a/b/c'), undefined);
  });

  it('quotes printed commands so agent-written titles cannot inject shell', () => {
    assert.equal(shellQuote("it's $(rm -rf ~)"), `'it'\\''s $(rm -rf ~)'`);
    const [add, push, pr] = manualPrCommands({ projectPath: '/p q', remote: null, baseBranch: 'main', branch: 'loki/session-1-2', title: '`x`', body: 'b' });
    assert.match(add!, /^git -C '\/p q' remote add origin </);
    assert.equal(push, "git -C '/p q' push origin refs/heads/loki/session-1-2:refs/heads/loki/session-1-2");
    assert.equal(pr, "cd '/p q' && gh pr create --base main --head loki/session-1-2 --title='`x`' --body=b");
  });
});
