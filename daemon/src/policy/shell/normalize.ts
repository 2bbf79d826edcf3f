// Puts argv into one canonical spelling so a rule written once catches every
// spelling: clustered short flags split (-rf → -r -f), long options mapped to
// their short twin (--recursive → -r), path operands canonicalized
// (//, /., /usr/.., trailing slashes), and `X/*` also seen as X.
import { posix } from 'node:path';
import type { Arg } from './types.js';
import { programName } from './wrappers.js';

export interface Operand {
  text: string;
  /** Other spellings this operand is equivalent to for matching (e.g. `/` for `/*`). */
  alts: string[];
  dynamic: Arg['dynamic'];
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
  return looksLikePath(a.text) ? pathOperand(canonicalPath(a.text)) : { text: a.text, alts: [], dynamic: 'none' };
}

export function normalizeArgv(argv: readonly Arg[]): NormalizedCommand {
  const first = argv[0];
  const programDynamic = !first || first.dynamic !== 'none';
  const program = first ? (programDynamic ? first.text : programName(first.text)) : '';
  const flags: string[] = [];
  const operands: Operand[] = [];
  let dynamicFlags = false;
  let endOfOptions = false;
  const longMap = LONG_MAP[program] ?? {};
  const alias = SHORT_ALIAS[program] ?? {};
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
    shown.push(/[\s'"\\$`;&|<>]/.test(o.text) || o.text === '' ? JSON.stringify(o.text) : o.text);
  };
  for (const a of argv.slice(1)) {
    if (a.dynamic === 'any') {
      dynamicFlags = true;
      addOperand(a);
      continue;
    }
    const t = a.text;
    if (a.dynamic === 'operand' || endOfOptions || !split || !t.startsWith('-') || t === '-') {
      addOperand(a);
      continue;
    }
    if (t === '--') {
      endOfOptions = true;
      continue;
    }
    if (t.startsWith('--')) {
      const [name, value] = t.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const mapped = longMap[name];
      addFlag(mapped && value === undefined ? mapped : t);
      continue;
    }
    for (const ch of t.slice(1)) addFlag(`-${ch}`);
  }
  return { program, programDynamic, flags, operands, dynamicFlags, text: shown.join(' ') };
}
