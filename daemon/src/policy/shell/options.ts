// How the file tools the engine knows parse their options, so the normalizer
// reads argv the way the program will: which options take a value (`-t DIR`,
// `-tDIR`, `--target-directory DIR`, `--target-directory=DIR`), which take an
// optional attached one (`sed -i.bak`), and every long option's full name, so a
// GNU-style unambiguous abbreviation (`--targ`, `--no-pres`) means what the
// program will take it to mean. A value is never mistaken for an operand.

export type Arity = 'none' | 'required' | 'optional';

export interface LongOption {
  arity: Arity;
  /** Canonical short twin (`--recursive` → `-r`); flags are recorded in this form. */
  short?: string;
}

export interface ToolOptions {
  long: Readonly<Record<string, LongOption>>;
  /** Short options whose value is the rest of the word or the next word. */
  shortRequired: string;
  /** Short options whose value, if any, is attached (`-i.bak`); never the next word. */
  shortOptional: string;
  /** tar's old style: a first word without a dash is a cluster (`tar xzf a.tgz`), its value letters taking the next words. */
  oldStyleFirstArg?: boolean;
}

const N: LongOption = { arity: 'none' };
const R: LongOption = { arity: 'required' };
const O: LongOption = { arity: 'optional' };
const n = (short: string): LongOption => ({ arity: 'none', short });
const r = (short: string): LongOption => ({ arity: 'required', short });
const o = (short: string): LongOption => ({ arity: 'optional', short });

const COMMON = { help: N, version: N };
const BACKUP = { backup: O, suffix: r('-S') };
const TARGET = { 'target-directory': r('-t'), 'no-target-directory': n('-T') };
const OWNERSHIP = { changes: n('-c'), silent: n('-f'), quiet: n('-f'), verbose: n('-v'), 'no-preserve-root': N, 'preserve-root': N, reference: R, recursive: n('-R'), dereference: N, 'no-dereference': n('-h'), from: R };

const TAR_LONG: Record<string, LongOption> = {
  directory: r('-C'), file: r('-f'), extract: n('-x'), get: n('-x'), create: n('-c'), append: n('-r'), update: n('-u'), concatenate: n('-A'), catenate: n('-A'),
  list: n('-t'), delete: N, diff: n('-d'), compare: n('-d'), gzip: n('-z'), gunzip: n('-z'), bzip2: n('-j'), xz: n('-J'), zstd: N, lzma: N, lzip: N, 'auto-compress': n('-a'),
  verbose: n('-v'), exclude: R, 'exclude-from': r('-X'), 'files-from': r('-T'), 'to-stdout': n('-O'), 'keep-old-files': n('-k'), overwrite: N, 'absolute-names': n('-P'),
  'strip-components': R, transform: R, xform: R, 'one-top-level': O, 'use-compress-program': r('-I'), wildcards: N, 'no-same-owner': N, 'same-owner': N,
  'preserve-permissions': n('-p'), owner: R, group: R, mode: R, mtime: R, 'blocking-factor': r('-b'), 'listed-incremental': r('-g'), 'starting-file': r('-K'),
  'tape-length': r('-L'), 'newer': r('-N'), 'label': r('-V'), 'no-recursion': N, recursion: N, 'unlink-first': n('-U'), 'recursive-unlink': N, warning: R, ...COMMON,
};

const BASE: Readonly<Record<string, ToolOptions>> = {
  rm: { long: { force: n('-f'), interactive: { arity: 'optional', short: '-i' }, 'one-file-system': N, 'no-preserve-root': N, 'preserve-root': O, recursive: n('-r'), dir: n('-d'), verbose: n('-v'), ...COMMON }, shortRequired: '', shortOptional: '' },
  rmdir: { long: { 'ignore-fail-on-non-empty': N, parents: n('-p'), verbose: n('-v'), ...COMMON }, shortRequired: '', shortOptional: '' },
  cp: {
    long: {
      archive: n('-a'), 'attributes-only': N, 'copy-contents': N, dereference: n('-L'), force: n('-f'), interactive: n('-i'), link: n('-l'), 'no-dereference': n('-P'),
      'no-clobber': n('-n'), parents: N, preserve: O, 'no-preserve': R, recursive: n('-r'), reflink: O, 'remove-destination': N, sparse: R, 'strip-trailing-slashes': N,
      'symbolic-link': n('-s'), update: O, verbose: n('-v'), 'one-file-system': n('-x'), context: O, debug: N, 'keep-directory-symlink': N, ...BACKUP, ...TARGET, ...COMMON,
    },
    shortRequired: 'St',
    shortOptional: '',
  },
  mv: { long: { debug: N, exchange: N, force: n('-f'), interactive: n('-i'), 'no-clobber': n('-n'), 'no-copy': N, 'strip-trailing-slashes': N, update: O, verbose: n('-v'), context: n('-Z'), ...BACKUP, ...TARGET, ...COMMON }, shortRequired: 'St', shortOptional: '' },
  install: {
    long: { compare: n('-C'), directory: n('-d'), group: r('-g'), mode: r('-m'), owner: r('-o'), 'preserve-timestamps': n('-p'), strip: n('-s'), 'strip-program': R, 'preserve-context': N, context: O, debug: N, verbose: n('-v'), ...BACKUP, ...TARGET, ...COMMON },
    shortRequired: 'gmoSt',
    shortOptional: '',
  },
  ln: { long: { directory: n('-d'), force: n('-f'), interactive: n('-i'), logical: n('-L'), 'no-dereference': n('-n'), physical: n('-P'), relative: n('-r'), symbolic: n('-s'), verbose: n('-v'), ...BACKUP, ...TARGET, ...COMMON }, shortRequired: 'St', shortOptional: '' },
  mkdir: { long: { mode: r('-m'), parents: n('-p'), verbose: n('-v'), context: O, ...COMMON }, shortRequired: 'm', shortOptional: '' },
  touch: { long: { date: r('-d'), reference: r('-r'), time: R, 'no-create': n('-c'), 'no-dereference': n('-h'), ...COMMON }, shortRequired: 'drt', shortOptional: '' },
  truncate: { long: { 'no-create': n('-c'), 'io-blocks': n('-o'), reference: r('-r'), size: r('-s'), ...COMMON }, shortRequired: 'rs', shortOptional: '' },
  shred: { long: { force: n('-f'), iterations: r('-n'), 'random-source': R, size: r('-s'), remove: o('-u'), verbose: n('-v'), exact: n('-x'), zero: n('-z'), ...COMMON }, shortRequired: 'ns', shortOptional: '' },
  tee: { long: { append: n('-a'), 'ignore-interrupts': n('-i'), 'output-error': O, ...COMMON }, shortRequired: '', shortOptional: '' },
  chmod: { long: OWNERSHIP, shortRequired: '', shortOptional: '' },
  chown: { long: OWNERSHIP, shortRequired: '', shortOptional: '' },
  chgrp: { long: OWNERSHIP, shortRequired: '', shortOptional: '' },
  sed: {
    long: { expression: r('-e'), file: r('-f'), 'in-place': o('-i'), 'line-length': r('-l'), 'null-data': n('-z'), 'zero-terminated': n('-z'), quiet: n('-n'), silent: n('-n'), 'regexp-extended': n('-E'), separate: n('-s'), sandbox: N, debug: N, posix: N, unbuffered: n('-u'), 'follow-symlinks': N, ...COMMON },
    shortRequired: 'efl',
    shortOptional: 'i',
  },
  perl: { long: {}, shortRequired: 'eEMmI', shortOptional: 'il0xCdDV' },
  ruby: { long: { ...COMMON }, shortRequired: 'eIrCE', shortOptional: 'ix0lTWK' },
  awk: { long: { include: r('-i'), file: r('-f'), assign: r('-v'), 'field-separator': r('-F'), load: r('-l'), exec: r('-E'), ...COMMON }, shortRequired: 'ifvFlE', shortOptional: '' },
  tar: { long: TAR_LONG, shortRequired: 'fCTXIbgKLNV', shortOptional: '', oldStyleFirstArg: true },
  unzip: { long: {}, shortRequired: 'dPx', shortOptional: '' },
  cpio: { long: { directory: r('-D'), extract: n('-i'), create: n('-o'), 'pass-through': n('-p'), file: r('-F'), pattern: r('-E'), format: r('-H'), owner: r('-R'), ...COMMON }, shortRequired: 'DFEHRCIOM', shortOptional: '' },
  rsync: {
    long: {
      'backup-dir': R, 'temp-dir': r('-T'), 'partial-dir': R, 'log-file': R, 'write-batch': R, 'only-write-batch': R, 'read-batch': R, rsh: r('-e'), exclude: R, include: R,
      filter: r('-f'), 'exclude-from': R, 'include-from': R, 'files-from': R, 'compare-dest': R, 'copy-dest': R, 'link-dest': R, chmod: R, chown: R, 'rsync-path': R,
      'password-file': R, 'max-size': R, 'min-size': R, bwlimit: R, timeout: R, port: R, suffix: R, 'out-format': R, 'log-file-format': R, 'block-size': r('-B'),
      'remote-option': r('-M'), recursive: n('-r'), archive: n('-a'), delete: N, 'dry-run': n('-n'), verbose: n('-v'), ...COMMON,
    },
    shortRequired: 'efTBM',
    shortOptional: '',
  },
  git: {
    // git's parse-options also takes unique prefixes; these are `git push`'s, where abbreviation matters to the rules.
    long: { force: n('-f'), 'force-with-lease': O, 'force-if-includes': N, all: N, mirror: N, tags: N, 'follow-tags': N, atomic: N, 'dry-run': N, porcelain: N, delete: N, 'set-upstream': N, 'no-verify': N, verify: N, prune: N, quiet: N, verbose: N, progress: N, 'receive-pack': R, repo: R, 'push-option': R, signed: O, recurse: N, thin: N },
    shortRequired: '',
    shortOptional: '',
  },
  // 7-Zip switches are never clustered; each carries its value attached (`-o/dir`, `-p…`, `-mx=9`).
  '7z': { long: {}, shortRequired: '', shortOptional: 'abcdeiklmoprstuvwxy' },
};

/** Other names of the same programs share their table. */
export const TOOL_OPTIONS: Readonly<Record<string, ToolOptions>> = {
  ...BASE,
  gawk: BASE.awk!,
  mawk: BASE.awk!,
  nawk: BASE.awk!,
  gtar: BASE.tar!,
  bsdtar: BASE.tar!,
  ginstall: BASE.install!,
  '7za': BASE['7z']!,
  '7zr': BASE['7z']!,
};

/**
 * The full long-option name for `name`: exact, or the one option it is an
 * unambiguous prefix of (GNU getopt_long and git both accept these). Undefined
 * for unknown or ambiguous names (the program rejects those itself).
 */
export function resolveLong(spec: ToolOptions, name: string): string | undefined {
  if (Object.hasOwn(spec.long, name)) return name;
  if (name.length === 0) return undefined;
  const hits = Object.keys(spec.long).filter((k) => k.startsWith(name));
  if (hits.length === 1) return hits[0];
  // getopt_long: several prefixes that all name the same option (aliases) are not ambiguous.
  if (hits.length > 1) {
    const forms = new Set(hits.map((h) => spec.long[h]!.short ?? h));
    if (forms.size === 1) return hits[0];
  }
  return undefined;
}
