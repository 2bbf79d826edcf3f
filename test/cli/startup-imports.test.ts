// What `loki` loads before a command runs. `--version`, help and usage errors used
// to load the whole CLI (Ink and React for the dashboard, grpc-js and the generated
// code, the HTTP client's ws, pino): ≈ 0.8 s before the first line. Command
// definitions stay eager; the rest loads inside the actions (docs/performance.md).
// The real CLI runs with a recorder preloaded: a module-resolution hook for ES
// modules and, at exit, the CommonJS cache (grpc-js and pino are CommonJS).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { entryArgv, shortTempDir } from '../helpers/entry.js';

const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.LOKI_TEST_MODULE_LOG, r.url + '\\n');
  return r;
}
`;

const RECORDER = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(new URL('./hooks.mjs', import.meta.url));
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(process.env.LOKI_TEST_MODULE_LOG, Object.keys(require.cache).join('\\n') + '\\n'));
`;

/** What must not load before a command's action runs. */
const HEAVY: [string, RegExp][] = [
  ['ink', /\/node_modules\/ink\//],
  ['react', /\/node_modules\/react(-reconciler)?\//],
  ['yoga-layout', /\/node_modules\/yoga-layout\//],
  ['@grpc/grpc-js', /\/node_modules\/@grpc\/grpc-js\//],
  ['@bufbuild/protobuf', /\/node_modules\/@bufbuild\/protobuf\//],
  ['ws', /\/node_modules\/ws\//],
  ['pino', /\/node_modules\/pino\//],
  ['the generated code (proto/gen)', /\/proto\/gen\//],
  ['the gRPC transport (client/src/grpc)', /\/client\/src\/grpc\//],
  ['the HTTP transport (client/src/http)', /\/client\/src\/http\//],
  ['the Ink dashboard (cli/src/dashboard)', /\/cli\/src\/dashboard\//],
  ['the `loki up` supervisor', /\/cli\/src\/up\/supervisor\./],
];

interface Loaded {
  code: number;
  stderr: string;
  modules: string[];
}

describe('loki startup: what loads before a command runs', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = shortTempDir('lks');
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(join(dir, 'recorder.mjs'), RECORDER);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let runs = 0;
  function loki(args: string[]): Promise<Loaded> {
    const log = join(dir, `modules-${runs++}.txt`);
    writeFileSync(log, '');
    const env = { PATH: process.env.PATH ?? '', HOME: dir, LOKI_CONFIG_DIR: dir, LOKI_SOCKET: join(dir, 'no-daemon.sock'), LOKI_TEST_MODULE_LOG: log };
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', pathToFileURL(join(dir, 'recorder.mjs')).href, ...entryArgv('cli'), ...args], { env, timeout: 60_000 }, (err, _stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stderr, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) });
      });
    });
  }

  const heavyIn = (modules: string[]) => HEAVY.filter(([, re]) => modules.some((m) => re.test(m))).map(([name]) => name);

  const CASES: [string[], number][] = [
    [['--version'], 0],
    [['--help'], 0],
    [['sessions', 'list', '--help'], 0],
    [['--no-such-flag'], 2],
    [['--json', 'no-such-command'], 2],
    [['start', '--max-iterations', 'abc', '--prompt', 'x'], 2],
    [['sandbox', 'logs', 'sbx-000000000000', '--tail', '0'], 2],
  ];

  for (const [args, code] of CASES) {
    it(`loads neither Ink, React, grpc-js, the generated code, ws nor pino for \`loki ${args.join(' ')}\``, async () => {
      const r = await loki(args);
      assert.equal(r.code, code, r.stderr);
      // The recorder saw the command tree load: an empty list would pass for the wrong reason.
      assert.ok(r.modules.some((m) => /\/node_modules\/commander\//.test(m)), `commander not among ${r.modules.length} recorded modules`);
      assert.ok(r.modules.some((m) => /\/cli\/src\/program\./.test(m)), 'program not recorded');
      assert.deepEqual(heavyIn(r.modules), []);
    });
  }

  it('does load the gRPC transport once a command talks to the daemon (the recorder sees CommonJS packages)', async () => {
    const r = await loki(['status']);
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /lokid is not running/);
    const heavy = heavyIn(r.modules);
    for (const name of ['@grpc/grpc-js', 'the generated code (proto/gen)', 'the gRPC transport (client/src/grpc)']) assert.ok(heavy.includes(name), `${name} not loaded: ${heavy.join(', ')}`);
    assert.ok(!heavy.includes('ink'), 'status loads no Ink');
  });
});
