#!/usr/bin/env node
// Regenerates proto/gen from proto/**/*.proto with Debian's protoc + ts-proto.
// Usage: node scripts/gen-proto.mjs [OUT_DIR]   (default proto/gen)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const protoDir = join(root, 'proto');
const out = resolve(process.argv[2] ?? join(protoDir, 'gen'));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (p === join(protoDir, 'gen')) return [];
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.proto') ? [p] : [];
  });
}

const files = walk(protoDir).map((f) => relative(protoDir, f)).sort();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const plugin = join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto');
const opts = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'importSuffix=.js',
  'env=node',
  'forceLong=number',
  'oneof=unions',
  'useOptionals=none',
  'exportCommonSymbols=false',
].join(',');
execFileSync('protoc', [
  `--plugin=protoc-gen-ts_proto=${plugin}`,
  `--ts_proto_out=${out}`,
  `--ts_proto_opt=${opts}`,
  `-I${protoDir}`,
  ...files,
], { stdio: 'inherit', cwd: root });
console.log(`generated ${files.length} proto files into ${relative(root, out) || out}`);
