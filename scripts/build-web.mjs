// Builds the web dashboard into dist/web: esbuild bundles web/src/main.tsx
// (Preact) and its CSS into content-hashed files under dist/web/assets/, then
// writes manifest.json (what the gateway may serve) and index.html (no inline
// script or style, so the strict CSP needs no exception). Prints the gzipped
// size of the JS the first page loads and fails above the budget.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
const assets = join(out, 'assets');
export const BUDGET_GZIP_BYTES = 150 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

// client/src/errors.ts imports the error taxonomy through common/'s index, which also
// re-exports node-only modules (config, paths, logger). The browser needs only the
// taxonomy, so the index resolves to common/src/errors.ts here; anything else from
// the index would then fail the build loudly instead of shipping node code.
const commonErrorsOnly = {
  name: 'common-errors-only',
  setup(b) {
    b.onResolve({ filter: /common\/src\/index\.js$/ }, () => ({ path: join(root, 'common', 'src', 'errors.ts') }));
  },
};

const result = await build({
  plugins: [commonErrorsOnly],
  entryPoints: { app: join(root, 'web', 'src', 'main.tsx') },
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  tsconfig: join(root, 'web', 'tsconfig.json'),
});

const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const files = {};
let js = '';
let css = '';
for (const file of Object.keys(result.metafile.outputs)) {
  const name = basename(file);
  const body = readFileSync(join(root, file));
  const ext = name.slice(name.lastIndexOf('.'));
  files[name] = { type: TYPES[ext] ?? 'application/octet-stream', bytes: body.length, gzip_bytes: gzipSync(body, { level: 9 }).length };
  if (ext === '.js') js = name;
  if (ext === '.css') css = name;
}
// The favicon is hashed like the bundle so it can be cached forever too.
const icon = readFileSync(join(root, 'web', 'favicon.svg'));
const iconName = `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
copyFileSync(join(root, 'web', 'favicon.svg'), join(assets, iconName));
files[iconName] = { type: TYPES['.svg'], bytes: icon.length, gzip_bytes: gzipSync(icon).length };

const manifest = { entry: { js, css }, files };
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
writeFileSync(
  join(out, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="strict-origin-when-cross-origin">
<title>Loki</title>
<link rel="icon" href="/assets/${iconName}" type="image/svg+xml">
<link rel="stylesheet" href="/assets/${css}">
<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The Loki dashboard needs JavaScript. The same data is available with the <code>loki</code> CLI.</noscript>
</body>
</html>
`,
);

const first = files[js].gzip_bytes;
process.stdout.write(`build-web: first-page JS ${js} = ${(first / 1024).toFixed(1)} KiB gzip (${(files[js].bytes / 1024).toFixed(1)} KiB raw), budget ${BUDGET_GZIP_BYTES / 1024} KiB; CSS ${(files[css].gzip_bytes / 1024).toFixed(1)} KiB gzip\n`);
if (first > BUDGET_GZIP_BYTES) {
  process.stderr.write(`build-web: the first-page JS is over the ${BUDGET_GZIP_BYTES / 1024} KiB gzip budget\n`);
  process.exit(1);
}
