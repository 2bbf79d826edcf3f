// After `tsc`: bundle the agent-runner into one CommonJS file so a sandbox
// needs only `node` (no node_modules): dist/agent-runner/loki-agent-runner.cjs.
import { build } from 'esbuild';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'agent-runner', 'loki-agent-runner.cjs');
mkdirSync(dirname(outfile), { recursive: true });

await build({
  entryPoints: [join(root, 'agent-runner', 'src', 'main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
  banner: { js: '// Loki agent-runner (bundled). Runs inside the sandbox; speaks only the agent API.' },
});
process.stdout.write(`postbuild: bundled ${outfile}\n`);

// The three binaries are started directly (npm bin links, /usr/local/bin symlinks
// as a systemd ExecStart): they need the executable bit tsc does not set.
for (const bin of ['cli/src/main.js', 'daemon/src/main.js', 'gateway/src/main.js']) {
  const p = join(root, 'dist', bin);
  if (existsSync(p)) chmodSync(p, 0o755);
}
