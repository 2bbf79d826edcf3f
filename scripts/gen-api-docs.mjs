// Regenerates docs/api.md from the gateway's OpenAPI document (run after `npm run build`).
// `--check` exits 1 when the committed file is stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { describeGatewayApi } = await import(join(root, 'dist/gateway/src/openapi-doc.js'));
const { renderApiMarkdown } = await import(join(root, 'dist/gateway/src/openapi-markdown.js'));
const target = join(root, 'docs/api.md');
const text = renderApiMarkdown(await describeGatewayApi());
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    process.stderr.write('docs/api.md is stale: run `node scripts/gen-api-docs.mjs`\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  process.stdout.write(`wrote ${target}\n`);
}
