// Which files a command writes or deletes, so they go through the path policy
// too (`rm -rf /etc`, `cp x /etc/passwd`, `tee /dev/sda`). Judged by class, not
// by spelling: a copy/move/link/install writes its destination *and*
// destination/basename(source) (the destination may be a directory), whether the
// destination is the last operand or a `-t`/`--target-directory` value; in-place
// editors (sed -i, perl -i, ruby -i, gawk -i inplace) write their file operands;
// archive extractors write names only known at run time into their target
// directory (`into`). Anything else is left to the sandbox mount, the hard boundary.
import { posix } from 'node:path';
import type { NormalizedCommand, Operand } from './shell/normalize.js';

export interface WriteTarget {
  text: string;
  dynamic: Operand['dynamic'];
  /** The command writes names only known at run time *inside* this directory. */
  into?: boolean;
}

const ALL_OPERANDS = new Set(['rm', 'rmdir', 'unlink', 'shred', 'truncate', 'touch', 'mkdir', 'tee']);
const COPIERS = new Set(['cp', 'mv', 'install', 'ginstall', 'ln']);
// ddrescue INFILE OUTFILE [MAPFILE]: writes every operand after the first.
const AFTER_FIRST = new Set(['chmod', 'chown', 'chgrp', 'ddrescue']);
const TARS = new Set(['tar', 'gtar', 'bsdtar']);
const AWKS = new Set(['awk', 'gawk', 'mawk', 'nawk']);
const SEVEN_ZIP = new Set(['7z', '7za', '7zr']);
/** rsync options whose value is a file or directory rsync writes. */
const RSYNC_WRITES = new Set(['--backup-dir', '-T', '--partial-dir', '--log-file', '--write-batch', '--only-write-batch']);

type T = Pick<Operand, 'text' | 'dynamic' | 'raw'>;

const valuesOf = (n: NormalizedCommand, flag: string): Operand[] => n.values.filter((v) => v.flag === flag).map((v) => v.value);
const has = (n: NormalizedCommand, flag: string) => n.flags.includes(flag);

/** dest/basename(src), or "unknown names into dest" when the source's name is not known statically. */
function placed(dest: T, src: T): WriteTarget {
  if (dest.dynamic !== 'none') return { text: dest.text, dynamic: dest.dynamic };
  // `src/.` copies src's *contents*: the names that land in dest are not known here.
  const written = src.raw ?? src.text;
  const base = src.dynamic === 'none' ? (/(^|\/)\.\/*$/.test(written) ? '.' : posix.basename(written.replace(/\/+$/, ''))) : '';
  if (!base || base === '.' || base === '..' || /[*?[]/.test(base)) return { text: dest.text, dynamic: 'none', into: true };
  return { text: posix.join(dest.text, base), dynamic: 'none' };
}

function copier(n: NormalizedCommand, ops: T[]): WriteTarget[] {
  const target = valuesOf(n, '-t').at(-1);
  // install -d and mkdir-like uses create every operand.
  if ((n.program === 'install' || n.program === 'ginstall') && has(n, '-d')) return ops;
  const sources = target ? ops : ops.slice(0, -1);
  const dest = target ?? (ops.length > 1 || n.program === 'ln' ? ops.at(-1) : undefined);
  const out: WriteTarget[] = n.program === 'mv' ? [...sources] : [];
  if (!dest) return out;
  if (n.program === 'ln' && !target && ops.length === 1) return [placed({ text: '.', dynamic: 'none' }, ops[0]!)];
  out.push(dest);
  // With -T the destination is the file itself; otherwise, if it is a directory, each source lands inside it.
  if (!has(n, '-T')) for (const s of sources) out.push(placed(dest, s));
  return out;
}

/** Operands after the script, for `sed`/`perl`/`ruby` (script given by -e/-f or as the first operand). */
function editedFiles(n: NormalizedCommand, ops: T[], scriptFlags: string[]): T[] {
  const scripted = scriptFlags.some((f) => valuesOf(n, f).length > 0);
  return scripted ? ops : ops.slice(1);
}

function inPlace(n: NormalizedCommand, ops: T[]): WriteTarget[] | undefined {
  if (n.program === 'sed' && has(n, '-i')) return editedFiles(n, ops, ['-e', '-f']);
  if ((n.program === 'perl' || n.program === 'ruby') && has(n, '-i')) return editedFiles(n, ops, ['-e', '-E']);
  if (AWKS.has(n.program) && valuesOf(n, '-i').some((v) => v.text === 'inplace' || v.dynamic !== 'none')) {
    return editedFiles(n, ops, ['-f', '-E']).filter((o) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(o.text));
  }
  return undefined;
}

function extractor(n: NormalizedCommand): WriteTarget[] | undefined {
  const into = (dirs: Operand[]): WriteTarget[] => (dirs.length ? dirs : [{ text: '.', alts: [], dynamic: 'none' as const }]).map((d) => ({ text: d.text, dynamic: d.dynamic, into: true }));
  if (TARS.has(n.program)) {
    const out: WriteTarget[] = [];
    if (has(n, '-x')) out.push(...into(valuesOf(n, '-C')));
    // Creating or updating writes the archive itself (`-f -` is stdout).
    if (['-c', '-r', '-u', '-A'].some((f) => has(n, f))) out.push(...valuesOf(n, '-f').filter((f) => f.text !== '-'));
    return out;
  }
  if (n.program === 'unzip') return has(n, '-l') || has(n, '-v') || has(n, '-t') || has(n, '-p') || has(n, '-Z') ? [] : into(valuesOf(n, '-d'));
  if (n.program === 'cpio') return has(n, '-i') ? into(valuesOf(n, '-D')) : [];
  if (SEVEN_ZIP.has(n.program)) return ['x', 'e'].includes(n.operands[0]?.text ?? '') ? into(valuesOf(n, '-o')) : [];
  return undefined;
}

/** Files the command writes or deletes (dynamic ones included, for fail-closed handling). */
export function writeTargets(n: NormalizedCommand): WriteTarget[] {
  // Stdin-fed operands (xargs) are unknowable here; the sandbox mount bounds them.
  const ops = n.operands.filter((o) => o.dynamic !== 'operand');
  if (ALL_OPERANDS.has(n.program)) return ops;
  if (COPIERS.has(n.program)) return copier(n, ops);
  if (n.program === 'rsync') {
    const written = n.values.filter((v) => RSYNC_WRITES.has(v.flag)).map((v) => v.value);
    return [...(n.operands.length > 1 && ops.length ? [ops[ops.length - 1]!] : []), ...written];
  }
  if (AFTER_FIRST.has(n.program)) return ops.slice(1);
  const edited = inPlace(n, ops);
  if (edited) return edited;
  const extracted = extractor(n);
  if (extracted) return extracted;
  if (n.program === 'dd') {
    return ops.filter((o) => o.text.startsWith('of=')).map((o) => ({ text: o.text.slice(3), dynamic: o.dynamic }));
  }
  if (n.program === 'find' && n.operands.some((o) => o.text === '-delete')) {
    const starts: T[] = [];
    for (const o of n.operands) {
      if (o.text.startsWith('-') || o.text === '(' || o.text === '!') break;
      starts.push(o);
    }
    return starts.length ? starts : [{ text: '.', dynamic: 'none' }];
  }
  return [];
}
