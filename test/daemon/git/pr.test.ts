import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { hasHiddenCharacters } from '../../../common/src/index.js';
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

  it('prints a multi-line or agent-controlled title and body as one pasteable line that bash turns back into the exact text', () => {
    const nasty = [
      'Session: ses-1\nBranch: loki/session-1 (base main @ abc)\n\nCommits (1):\n- abc fix',
      'tab\there, CR\r, ESC\u001b[8mhidden\u001b[0m, BEL\u0007, DEL\u007f',
      'C1 CSI \u009b2J and NEL \u0085',
      'bidi \u202eexe.txt\u202c, zero width \u200b, BOM \ufeff, tag \u{e0041}',
      "quotes ' \" and backslashes \\n \\x1b \\ and $(rm -rf ~) `id` $HOME",
      'unicode is kept: caf\u00e9 \u{1f600}\nsecond line',
    ];
    for (const text of nasty) {
      const q = shellQuote(text);
      assert.ok(!q.includes('\n'), `one line: ${q}`);
      assert.equal(hasHiddenCharacters(q), false, `nothing a terminal acts on or hides: ${q}`);
      // The real shell, as the user would paste it.
      const out = execFileSync('bash', ['-c', `printf %s ${q}`], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', LC_ALL: 'C.UTF-8' } });
      assert.equal(out, text, `bash reads back ${JSON.stringify(text)} from ${q}`);
    }
    const [, pr] = manualPrCommands({ projectPath: '/p', remote: 'origin', baseBranch: 'main', branch: 'loki/session-1-2', title: 't', body: 'a\nb' });
    assert.equal(pr, "cd /p && gh pr create --base main --head loki/session-1-2 --title=t --body=$'a\\nb'");
  });
});
