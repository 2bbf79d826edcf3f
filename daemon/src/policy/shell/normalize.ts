// Puts argv into one canonical spelling so a rule written once catches every
// spelling: clustered short flags split (-rf → -r -f), long options mapped to
// their short twin (--recursive → -r), path operands canonicalized
// (//, /., /usr/.., trailing slashes), and `X/*` also seen as X.
import { posix } from 'node:path';
import { TOOL_OPTIONS, resolveLong, type ToolOptions } from './options.js';
import type { Arg } from './types.js';
import { programName } from './wrappers.js';

export interface Operand {
  text: string;
  /** Other spellings this operand is equivalent to for matching (e.g. `/` for `/*`). */
  alts: string[];
  dynamic: Arg['dynamic'];
  /** The word as written, when canonicalizing changed its meaning to a copier (`src/.` names src's contents). */
  raw?: string;
}

/** The value an option took (`-t /etc`, `--directory=x`), kept apart from the operands. */
export interface OptionValue {
  /** The canonical flag it belongs to (`-t`, `--log-file`). */
  flag: string;
  value: Operand;
}

export interface NormalizedCommand {
  program: string;
  /** True when the program name itself is only known at run time. */
  programDynamic: boolean;
  /** Flags in first-seen order, deduplicated: `-r`, `-f`, `--no-preserve-root`, `--foo=bar`. */
  flags: string[];
  operands: Operand[];
  /** True when some argument is a shell expansion that could turn out to be a flag. */
  dynamicFlags: boolean;
  /** Values of options that take one, for programs whose options are known (see options.ts). */
  values: OptionValue[];
  /** Printable normalized form, e.g. `rm -r -f /`. */
  text: string;
}

/** Programs whose single-dash words are not clustered short flags (find -name, dd has none, java -jar). */
const NO_SPLIT = new Set(['find', 'dd', 'java', 'javac', 'gcc', 'g++', 'cc', 'clang', 'clang++', 'go', 'ld', 'xcodebuild', 'ffmpeg', 'convert', 'kill', 'pkill', 'head', 'tail']);

/** Long option → canonical short flag, per program. Unlisted long options stay as written. */
const LONG_MAP: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  rm: { recursive: '-r', force: '-f', dir: '-d', verbose: '-v', interactive: '-i' },
  cp: { recursive: '-r', force: '-f', archive: '-a' },
  chmod: { recursive: '-R' },
  chown: { recursive: '-R' },
  chgrp: { recursive: '-R' },
  git: { force: '-f' },
  shred: { remove: '-u', zero: '-z', force: '-f' },
};

/** Short flag aliases, per program (rm -R is rm -r). */
const SHORT_ALIAS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  rm: { '-R': '-r' },
  cp: { '-R': '-r' },
};

/** Does this word look like a path (so it is canonicalized)? */
export function looksLikePath(t: string): boolean {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(t)) return false; // a URL, not a path
  return t.startsWith('/') || t.startsWith('~') || t.startsWith('./') || t.startsWith('../') || t === '.' || t === '..' || t.includes('/');
}

/** Lexical canonical form of a path word: `//`→`/`, `/usr/..`→`/`, trailing slash dropped, `~/`→`~`. */
export function canonicalPath(t: string): string {
  if (!looksLikePath(t)) return t;
  let n = posix.normalize(t);
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

/**
 * A path operand for matching. A last segment that is only a glob (`/*`, `/.*`,
 * `/.[!.]*`, `/?*`) names everything under its parent, so it also matches as the
 * parent. A glob in the first segment of an absolute path (`/u*`, `/[e]tc`) could
 * name any top-level directory: it is treated as unknown, like a run-time value.
 */
export function pathOperand(canon: string): Operand {
  if (/^\/[^/]*[*?[]/.test(canon) && !/^\/[*?.[\]!^]*$/.test(canon)) return { text: canon, alts: [], dynamic: 'any' };
  const m = /^(.*?)\/([*?.[\]!^]*[*?][*?.[\]!^]*)$/.exec(canon);
  return { text: canon, alts: m ? [m[1] === '' ? '/' : m[1]!] : [], dynamic: 'none' };
}

function canonOperand(a: Arg): Operand {
  if (a.dynamic !== 'none') return { text: a.text, alts: [], dynamic: a.dynamic };
  const kv = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(a.text);
  if (kv && looksLikePath(kv[2]!)) {
    const o = pathOperand(canonicalPath(kv[2]!));
    return { ...o, text: `${kv[1]}=${o.text}`, alts: o.alts.map((x) => `${kv[1]}=${x}`) };
  }
  if (!looksLikePath(a.text)) return { text: a.text, alts: [], dynamic: 'none' };
  const o = pathOperand(canonicalPath(a.text));
  return /(^|\/)\.\/*$/.test(a.text) ? { ...o, raw: a.text } : o;
}

export function normalizeArgv(argv: readonly Arg[]): NormalizedCommand {
  const first = argv[0];
  const programDynamic = !first || first.dynamic !== 'none';
  const program = first ? (programDynamic ? first.text : programName(first.text)) : '';
  const flags: string[] = [];
  const operands: Operand[] = [];
  const values: OptionValue[] = [];
  let dynamicFlags = false;
  let endOfOptions = false;
  const longMap = LONG_MAP[program] ?? {};
  const alias = SHORT_ALIAS[program] ?? {};
  const spec: ToolOptions | undefined = programDynamic ? undefined : TOOL_OPTIONS[program];
  const split = !NO_SPLIT.has(program);
  const shown: string[] = [program];
  const addFlag = (f: string) => {
    const g = alias[f] ?? f;
    if (!flags.includes(g)) {
      flags.push(g);
      shown.push(g);
    }
  };
  const addOperand = (a: Arg) => {
    const o = canonOperand(a);
    operands.push(o);
    shown.push(show(o));
  };
  const addValue = (flag: string, a: Arg) => {
    const g = alias[flag] ?? flag;
    if (!flags.includes(g)) flags.push(g);
    const o = canonOperand(a);
    values.push({ flag: g, value: o });
    shown.push(g, show(o));
  };
  const rest = argv.slice(1);
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a.dynamic === 'any') {
      dynamicFlags = true;
      addOperand(a);
      continue;
    }
    const t = a.text;
    if (spec?.oldStyleFirstArg && i === 0 && a.dynamic === 'none' && /^[A-Za-z]+$/.test(t)) {
      // `tar xzf a.tgz -C d`: each value letter takes the next word, in order.
      for (const ch of t) {
        if (spec.shortRequired.includes(ch) && i + 1 < rest.length) addValue(`-${ch}`, rest[++i]!);
        else addFlag(`-${ch}`);
      }
      continue;
    }
    if (a.dynamic === 'operand' || endOfOptions || !split || !t.startsWith('-') || t === '-') {
      addOperand(a);
      continue;
    }
    if (t === '--') {
      endOfOptions = true;
      continue;
    }
    if (t.startsWith('--')) {
      const [written, value] = t.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const name = spec ? (resolveLong(spec, written) ?? written) : written;
      const opt = spec?.long[name];
      const canonical = opt?.short ?? longMap[name] ?? `--${name}`;
      if (opt && opt.arity !== 'none' && value !== undefined) addValue(canonical, { text: value, dynamic: 'none' });
      else if (opt?.arity === 'required' && i + 1 < rest.length) addValue(canonical, rest[++i]!);
      else if (!opt && value !== undefined) addFlag(t);
      else addFlag(longMap[name] && value === undefined ? longMap[name] : opt ? canonical : t);
      continue;
    }
    const letters = t.slice(1);
    for (let k = 0; k < letters.length; k++) {
      const ch = letters[k]!;
      if (spec?.shortOptional.includes(ch)) {
        const attached = letters.slice(k + 1);
        if (attached) addValue(`-${ch}`, { text: attached, dynamic: 'none' });
        else addFlag(`-${ch}`);
        break;
      }
      if (spec?.shortRequired.includes(ch)) {
        const attached = letters.slice(k + 1);
        if (attached) addValue(`-${ch}`, { text: attached, dynamic: 'none' });
        else if (i + 1 < rest.length) addValue(`-${ch}`, rest[++i]!);
        else addFlag(`-${ch}`);
        break;
      }
      addFlag(`-${ch}`);
    }
  }
  return { program, programDynamic, flags, operands, dynamicFlags, values, text: shown.join(' ') };
}

function show(o: Operand): string {
  // A run-time word is kept as it was written, quotes and all (`"$DIR/build"`): quoting that
  // source text again showed approvers `"\"$DIR/build\""`.
  if (o.dynamic === 'any') return o.text;
  return /[\s'"\\$`;&|<>]/.test(o.text) || o.text === '' ? JSON.stringify(o.text) : o.text;
}
