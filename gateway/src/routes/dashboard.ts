// The web dashboard: GET / serves the built index.html, GET /assets/:name the
// hashed files listed in the build manifest (dist/web/manifest.json), cached
// for a year as immutable. Only names in the manifest are served, so a request
// can never reach another file. The page is public (it holds no data: every
// datum comes from the authenticated API); the security plugin gives HTML the
// strict CSP (script and style from 'self' only, no inline, no eval).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { LokiError } from '../../../common/src/index.js';
import type { RouteAccess } from './access.js';

export interface WebManifest {
  /** The entry script and stylesheet of the first page (hashed names). */
  entry: { js: string; css: string };
  /** Every servable asset: name → content type. */
  files: Record<string, { type: string; bytes: number; gzip_bytes: number }>;
}

export interface DashboardOptions {
  /** Directory holding manifest.json, index.html and assets/ (default: dist/web next to the compiled gateway). */
  root?: string;
}

export function defaultWebRoot(): string {
  // dist/gateway/src/routes/dashboard.js → dist/web
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');
}

// Static bytes from memory, as cheap as /health: a page load (shell, script, style, icon) and
// its reloads must not spend the per-address budget that slows password-guessing on login.
const PUBLIC: RouteAccess = { scope: 'public', rateLimit: 'exempt' };
const ASSET_NAME = '^[A-Za-z0-9_.-]{1,128}$';

interface Built {
  index: Buffer;
  assets: Map<string, { body: Buffer; type: string }>;
}

function load(root: string): Built | undefined {
  let manifest: WebManifest;
  try {
    manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as WebManifest;
  } catch {
    return undefined;
  }
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const [name, f] of Object.entries(manifest.files)) {
    if (!new RegExp(ASSET_NAME).test(name)) continue;
    assets.set(name, { body: readFileSync(join(root, 'assets', name)), type: f.type });
  }
  return { index: readFileSync(join(root, 'index.html')), assets };
}

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  // Read once at startup: the files are immutable build output, and serving from memory avoids any path handling per request.
  const built = load(opts.root ?? defaultWebRoot());

  app.get('/', { config: { access: PUBLIC }, schema: { summary: 'The web dashboard (single-page app shell; no data without a session)', querystring: { type: 'object', properties: {} } } }, async (_req, reply) => {
    if (!built) throw new LokiError('unavailable', 'the web dashboard is not built: run `npm run build` (scripts/build-web.mjs)');
    // The shell must always be fresh so it names the current hashed assets.
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(built.index);
  });

  app.get<{ Params: { name: string } }>(
    '/assets/:name',
    { config: { access: PUBLIC }, schema: { summary: 'A hashed web dashboard asset (immutable, long cache)', params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: ASSET_NAME } } } } },
    async (req, reply) => {
      const asset = built?.assets.get(req.params.name);
      if (!asset) throw new LokiError('not_found', 'no such dashboard asset');
      return reply.header('cache-control', 'public, max-age=31536000, immutable').type(asset.type).send(asset.body);
    },
  );
}
