import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, KIND_MAP, LokiError, type ErrorKind } from '../../common/src/errors.js';
import { installRoot } from '../../daemon/src/config.js';

/** Rows of the markdown table that follows `## heading`, as arrays of trimmed cells (header and rule dropped). */
function tableAfter(md: string, heading: string): string[][] {
  const start = md.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `docs/errors.md has a "## ${heading}" section`);
  const rows: string[][] = [];
  for (const line of md.slice(start).split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|')) continue;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows.slice(2);
}

describe('docs/errors.md', () => {
  const md = readFileSync(join(installRoot(), 'docs', 'errors.md'), 'utf8');
  const codeRows = tableAfter(md, 'Codes');
  const kindRows = tableAfter(md, 'Kinds');

  it('documents every error code with the kind it has in ERROR_CODES', () => {
    const documented = new Map(codeRows.map((r) => [r[0]!.replace(/`/g, ''), r[1]]));
    for (const [code, kind] of Object.entries(ERROR_CODES)) {
      assert.ok(documented.has(code), `docs/errors.md is missing a row for \`${code}\``);
      assert.equal(documented.get(code), kind, `docs/errors.md gives \`${code}\` the wrong kind`);
    }
  });

  it('documents only codes that exist, each once, each with a meaning', () => {
    const seen = new Set<string>();
    for (const r of codeRows) {
      const code = r[0]!.replace(/`/g, '');
      assert.ok(Object.hasOwn(ERROR_CODES, code), `docs/errors.md documents \`${code}\`, which is not in ERROR_CODES`);
      assert.ok(!seen.has(code), `\`${code}\` is documented twice`);
      seen.add(code);
      assert.ok((r[2] ?? '').length > 10, `\`${code}\` has no meaning in docs/errors.md`);
    }
  });

  it('has a kinds table that matches KIND_MAP (gRPC status, HTTP status, exit code) both ways', () => {
    const kinds = Object.keys(KIND_MAP) as ErrorKind[];
    assert.deepEqual(kindRows.map((r) => r[0]).sort(), [...kinds].sort());
    for (const r of kindRows) {
      const m = KIND_MAP[r[0] as ErrorKind];
      assert.deepEqual([Number(r[1]), Number(r[2]), Number(r[3])], [m.grpc, m.http, m.exit], `the row for kind ${r[0]} disagrees with KIND_MAP`);
    }
  });
});

describe('LokiError', () => {
  it('takes its gRPC status, HTTP status and exit code from its kind', () => {
    const e = new LokiError('sandbox_not_found', 'no sandbox "x"');
    assert.equal(e.kind, 'not_found');
    assert.deepEqual([e.grpcStatus, e.httpStatus, e.exitCode], [5, 404, 5]);
    const h = new LokiError('hardening_unavailable', 'no seccomp');
    assert.deepEqual([h.grpcStatus, h.httpStatus, h.exitCode], [9, 409, 6]);
  });
});
