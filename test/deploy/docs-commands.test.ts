// Every host user can read every process's command line (/proc/<pid>/cmdline,
// `ps`), so a documented command that puts an API token in its arguments hands
// it to them for as long as the command runs (a curl on an SSE stream: for
// hours). The docs pass tokens through a header file or stdin (`curl -H @-`),
// a token file (`--token-file`) or the environment, never as an argument.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/entry.js';

/** A source checkout's root: dist/ when the tests run compiled. */
const REPO = ROOT.endsWith('/dist') ? join(ROOT, '..') : ROOT;

/** Lines of the fenced code blocks of a Markdown file, with their line numbers. */
function codeLines(file: string): Array<{ n: number; line: string }> {
  const out: Array<{ n: number; line: string }> = [];
  let fenced = false;
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (fenced) out.push({ n: i + 1, line });
  });
  return out;
}

const TOKEN_IN_ARGV = [
  /-H\s+["']?authorization:\s*bearer\s/i,
  /--header\s+["']?authorization:\s*bearer\s/i,
  /--oauth2-bearer\b/,
  /\bloki\b.*\s--token[\s=](?!-file)/,
];

describe('documented commands', () => {
  it('never put an API token in a command line (readable by every local user)', () => {
    const files = [join(REPO, 'README.md'), ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(REPO, 'docs', f))];
    const found: string[] = [];
    for (const f of files) {
      for (const { n, line } of codeLines(f)) if (TOKEN_IN_ARGV.some((re) => re.test(line))) found.push(`${f.slice(REPO.length + 1)}:${n}: ${line.trim()}`);
    }
    assert.deepEqual(found, []);
  });
});
