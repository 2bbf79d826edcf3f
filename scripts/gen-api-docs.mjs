// Regenerates docs/api.md and the route table of docs/authorization.md from the
// gateway's OpenAPI document (run after `npm run build`).
// `--check` exits 1 when a committed file is stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { describeGatewayApi } = await import(join(root, 'dist/gateway/src/openapi-doc.js'));
const { renderApiMarkdown, spliceRouteTable } = await import(join(root, 'dist/gateway/src/openapi-markdown.js'));
const doc = await describeGatewayApi();
const read = (p) => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};
const api = join(root, 'docs/api.md');
const authz = join(root, 'docs/authorization.md');
const outputs = [
  [api, renderApiMarkdown(doc)],
  [authz, spliceRouteTable(read(authz), doc)],
];
let stale = false;
for (const [file, text] of outputs) {
  if (read(file) === text) continue;
  if (process.argv.includes('--check')) {
    process.stderr.write(`${file} is stale: run \`node scripts/gen-api-docs.mjs\`\n`);
    stale = true;
  } else {
    writeFileSync(file, text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
if (stale) process.exit(1);
