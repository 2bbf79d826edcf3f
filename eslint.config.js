// ESLint flat config. The import-boundary rules enforce STYLE.md's privilege
// boundary: gateway, cli and agent-runner never import daemon code, dockerode,
// simple-git or the daemon's store; agent-runner imports only proto + common.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const privileged = ['dockerode', 'simple-git', 'better-sqlite3'];
const daemonCode = ['**/daemon/**', '../daemon/*', '../../daemon/*'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/gen/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'no-console': 'error',
      // Validators deliberately match control characters to reject them.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'import-x/no-cycle': ['error', { maxDepth: 8, ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'export by name, not export * (STYLE.md)' }],
    },
  },
  {
    files: ['gateway/**/*.ts', 'cli/**/*.ts', 'cli/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: privileged.map((name) => ({ name, message: 'only the daemon may use this (privilege boundary)' })),
        patterns: [{ group: daemonCode, message: 'gateway and cli never import daemon code; call the daemon over gRPC' }],
      }],
    },
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
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...privileged, 'fastify', 'pino', 'commander', 'ink', 'react'].map((name) => ({ name, message: 'agent-runner imports only proto/ and common/ (it runs untrusted in the sandbox)' })),
        patterns: [{ group: [...daemonCode, '**/gateway/**', '**/cli/**'], message: 'agent-runner imports only proto/ and common/' }],
      }],
    },
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
