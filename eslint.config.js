// ESLint flat config. The import-boundary rules enforce the privilege boundary
// of docs/architecture.md (STYLE.md "The layout shows the privilege boundary"):
//   common  imports no part (daemon, gateway, cli, client, agent-runner);
//   daemon  never imports gateway, cli or client;
//   gateway never imports daemon code, cli, dockerode, simple-git or better-sqlite3;
//   client  imports only proto/ and common/ (never daemon, gateway or cli);
//   cli     goes through client/: never daemon, gateway, generated code or grpc-js;
//   agent-runner imports only proto/ and common/;
//   inside the daemon, only daemon.ts, grpc/ and the <feature>/grpc*.ts adapters import grpc/;
//   authz/ imports no transport.
//   only store/ and the composition root (daemon.ts) touch SQLite: features use their repository.
// test/client/boundaries.test.ts feeds a violating import for each rule and expects an error.
// Type-aware rules (no-floating-promises, consistent-type-imports) use the TypeScript project service.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const privileged = ['dockerode', 'simple-git', 'better-sqlite3'];
const part = (name) => [`**/${name}/**`, `../${name}/*`, `../../${name}/*`];
const daemonCode = part('daemon');

const restrict = (paths, groups) => ({
  'no-restricted-imports': ['error', {
    paths: paths.map(([name, message]) => ({ name, message })),
    patterns: groups.map(([group, message]) => ({ group, message })),
  }],
});
const daemonOutward = [[...part('gateway'), ...part('cli'), ...part('client')], 'the daemon never imports the gateway, the CLI or the client (they call it, not the other way round)'];
const grpcFolder = ['./grpc/*', '../grpc/*', '../../grpc/*'];
const grpcAdapters = ['daemon/src/*/grpc.ts', 'daemon/src/*/grpc-*.ts'];
const featureWiring = ['daemon/src/*/feature.ts'];
// The transport boundary uses typescript-eslint's twin of no-restricted-imports, a rule
// of its own, so it composes with the daemon's other import rules instead of
// overriding them (ESLint replaces a rule's options per file, it never merges them).
const restrictGrpc = (group, message) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group, message }] }] });
const privilegedPaths = privileged.map((name) => [name, 'only the daemon may use this (privilege boundary)']);
// Inside the daemon only store/ and daemon.ts open the database; every other file reads and writes through its feature's repository interface.
const storeOnly = 'only daemon/src/store/ and daemon.ts touch SQLite; use your feature\'s repository interface (docs/architecture.md)';
const storePaths = [['better-sqlite3', storeOnly]];
const storeGroup = [['**/store/db.js', '**/store/sqlite/*', '../store/*', '../../store/*', './store/*'], storeOnly];
const storeFiles = ['daemon/src/store/**/*.ts', 'daemon/src/daemon.ts'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { 'import-x': importX },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      // Without these, import-x skips .ts dependencies and no-cycle never sees a cycle.
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
    },
    rules: {
      'no-console': 'error',
      // Validators deliberately match control characters to reject them.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'import-x/no-cycle': ['error', { maxDepth: 8, ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'export by name, not export * (STYLE.md)' }],
    },
  },
  {
    files: ['common/**/*.ts'],
    rules: restrict([], [[[...daemonCode, ...part('gateway'), ...part('cli'), ...part('client'), ...part('agent-runner')], 'common imports no part of Loki (it is shared by all of them)']]),
  },
  {
    files: ['daemon/**/*.ts'],
    ignores: storeFiles,
    rules: restrict(storePaths, [daemonOutward, storeGroup]),
  },
  {
    files: storeFiles,
    rules: restrict([], [daemonOutward]),
  },
  // Inside the daemon (docs/architecture.md "Inside the daemon"): grpc/ is the
  // transport (listeners, wrap, decode, health, the caller at the door). Only
  // daemon.ts, grpc/ itself and the gRPC adapters (<feature>/grpc.ts, and
  // <feature>/grpc-<part>.ts where one feature needs more) import it; a feature's
  // wiring (<feature>/feature.ts) may name the ServiceModule it hands to daemon.ts.
  // Authorization lives in authz/, which knows no transport.
  {
    files: ['daemon/src/**/*.ts'],
    ignores: ['daemon/src/grpc/**', 'daemon/src/daemon.ts', ...grpcAdapters, ...featureWiring],
    rules: restrictGrpc(grpcFolder, 'only daemon.ts, grpc/ and the gRPC adapters (<feature>/grpc.ts, grpc-<part>.ts) import the transport folder; authorization is in authz/'),
  },
  {
    files: featureWiring,
    rules: restrictGrpc([...grpcFolder, '!../grpc/module.js'], "a feature's wiring names only the ServiceModule (grpc/module.js) it hands to daemon.ts; the wire is in <feature>/grpc.ts"),
  },
  {
    files: grpcAdapters,
    rules: restrictGrpc(['../grpc/caller.js', '../grpc/call-context.js'], 'Caller, requireScope, canAccessOwned and the call context are in authz/'),
  },
  {
    files: ['daemon/src/authz/**/*.ts'],
    rules: restrictGrpc(grpcFolder, 'authz/ knows no transport: it is what every transport and feature checks against'),
//   only store/ and the composition root (daemon.ts) touch SQLite: features use their repository.
  },
  {
    files: ['gateway/**/*.ts'],
    rules: restrict(privilegedPaths, [
      [daemonCode, 'the gateway never imports daemon code; call the daemon over gRPC (client/src/grpc)'],
      [part('cli'), 'the gateway never imports the CLI'],
    ]),
  },
  {
    files: ['client/**/*.ts'],
    rules: restrict(privilegedPaths, [[[...daemonCode, ...part('gateway'), ...part('cli')], 'client imports only proto/ and common/']]),
  },
  {
    files: ['cli/**/*.ts', 'cli/**/*.tsx'],
    rules: restrict(
      [...privilegedPaths, ['@grpc/grpc-js', 'the CLI talks through client/ (LokiClient), never to sockets itself']],
      [
        [daemonCode, 'the CLI never imports daemon code; it talks through client/'],
        [part('gateway'), 'the CLI never imports the gateway; it talks through client/'],
        [['**/proto/gen/**'], 'the CLI renders domain types from client/, never generated messages'],
      ],
    ),
  },
  {
    // The web dashboard runs in the browser and speaks only HTTP through client/src/http-browser.ts.
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: [...daemonCode, '**/gateway/**', '**/cli/**', '**/proto/**'], message: 'the web dashboard talks to the gateway over HTTP only (client/src/http-browser.ts)' },
          { group: ['node:*'], message: 'the web dashboard runs in a browser' },
        ],
      }],
    },
  },
  {
    files: ['agent-runner/**/*.ts'],
    rules: restrict(
      [...privileged, 'fastify', 'pino', 'commander', 'ink', 'react'].map((name) => [name, 'agent-runner imports only proto/ and common/ (it runs untrusted in the sandbox)']),
      [[[...daemonCode, ...part('gateway'), ...part('cli'), ...part('client')], 'agent-runner imports only proto/ and common/']],
    ),
  },
  {
    files: ['cli/**/*.ts', 'cli/**/*.tsx', 'bench/**/*.ts', 'scripts/**', 'test/**/*.ts', 'agent-runner/src/hook*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-unused-expressions': 'off', 'no-regex-spaces': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
