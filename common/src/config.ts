// Config helpers shared by every process: read a YAML/JSON file, overlay LOKI_*
// environment variables, validate against the process's one zod schema,
// report every problem at once as `path: message`, then deep-freeze.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { parse as YamlParse } from 'yaml';
import type { z } from 'zod';
import { LokiError } from './errors.js';

export type EnvType = 'string' | 'bool' | 'int' | 'number' | 'list';

export interface EnvBinding {
  env: string;
  path: string;
  type: EnvType;
}

export class ConfigError extends LokiError {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super('invalid_config', `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value as DeepReadonly<T>;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = target;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (!next || typeof next !== 'object' || Array.isArray(next)) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function convertEnv(binding: EnvBinding, raw: string, problems: string[]): unknown {
  const v = raw.trim();
  switch (binding.type) {
    case 'string':
      return v;
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off)$/i.test(v)) return false;
      problems.push(`${binding.env}: expected true or false, got ${JSON.stringify(raw)}`);
      return undefined;
    case 'int':
    case 'number': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n) || (binding.type === 'int' && !Number.isInteger(n))) {
        problems.push(`${binding.env}: expected ${binding.type === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
        return undefined;
      }
      return n;
    }
    case 'list':
      return v === '' ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
}

// The yaml library is loaded on first use, not at start: with no config file (the
// `loki up` default) lokid and the gateway never need it, and loading it costs each
// process a few MB of resident memory it would keep for its lifetime.
let yamlParse: typeof YamlParse | undefined;

/** YAML (or JSON) text to a value; the library loads on the first call. */
export function parseYaml(text: string): unknown {
  yamlParse ??= (createRequire(import.meta.url)('yaml') as { parse: typeof YamlParse }).parse;
  return yamlParse(text);
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${path}: not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError([`${path}: the top level must be a mapping`]);
  return doc as Record<string, unknown>;
}

export interface LoadConfigOptions<S extends z.ZodType> {
  schema: S;
  /** Raw values from a config file (already read), or undefined. */
  file?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  bindings?: readonly EnvBinding[];
  /** Extra checks that need the whole parsed config; push `path: message` strings. */
  refine?: (cfg: z.infer<S>, problems: string[]) => void;
}

/** Validates file + env against the schema; throws ConfigError listing every problem. */
export function loadConfig<S extends z.ZodType>(opts: LoadConfigOptions<S>): DeepReadonly<z.infer<S>> {
  const raw: Record<string, unknown> = structuredClone(opts.file ?? {});
  const problems: string[] = [];
  const env = opts.env ?? {};
  for (const b of opts.bindings ?? []) {
    const value = env[b.env];
    if (value === undefined) continue;
    const converted = convertEnv(b, value, problems);
    if (converted !== undefined) setPath(raw, b.path, converted);
  }
  const result = opts.schema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
      problems.push(`${path}: ${issue.message}`);
    }
  }
  if (result.success && problems.length === 0) opts.refine?.(result.data, problems);
  if (problems.length) throw new ConfigError(problems);
  return deepFreeze(result.data as z.infer<S>);
}

/** Parses sizes like 512m, 2g, 1048576 into bytes. */
export function parseBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(value.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}
