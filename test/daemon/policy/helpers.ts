// Shared real parts for policy tests: corpora on disk, a silent pino logger,
// temp directories and an engine built through the same config path as lokid.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino, type Logger } from 'pino';
import { buildPolicyEngine, type PolicyConfigInput } from '../../../daemon/src/policy/config.js';
import type { PolicyEngine } from '../../../daemon/src/policy/engine.js';

/** The corpus lives beside the sources; compiled tests (dist/test/…) find it by walking up to the repo root. */
export function corpusDir(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'test', 'daemon', 'policy', 'corpus');
    if (existsSync(join(candidate, 'dangerous.txt'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`policy corpus not found above ${from}`);
  }
}

/** One command per line; `#` lines are comments; a literal `\n` stands for a newline inside a command. */
export function loadCorpus(name: 'dangerous.txt' | 'ordinary.txt'): string[] {
  return readFileSync(join(corpusDir(), name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\\n/g, '\n'));
}

export function engineFor(cfg: PolicyConfigInput = {}): PolicyEngine {
  return buildPolicyEngine(cfg).engine;
}

export function quietLogger(lines: string[] = []): Logger {
  return pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
}

export interface TempDir {
  path: string;
  cleanup(): void;
}

export function tempDir(prefix = 'loki-policy-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
