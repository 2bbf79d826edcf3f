// `cd / && rm -rf *` must be judged as `rm -rf /*`: follow `cd`/`pushd` through a
// command line and, once the directory has moved, make the relative operands of
// file-touching programs absolute before rules and path checks see them. A `cd`
// to a run-time value makes those operands unknown (fail closed).
import { posix } from 'node:path';
import { canonicalPath, pathOperand, type NormalizedCommand, type Operand } from './shell/normalize.js';

const FILE_PROGRAMS = new Set([
  'rm', 'rmdir', 'unlink', 'shred', 'truncate', 'touch', 'mkdir', 'tee', 'mv', 'cp', 'ln', 'install', 'ginstall', 'rsync', 'chmod', 'chown', 'chgrp', 'find', 'dd',
  'sed', 'perl', 'ruby', 'awk', 'gawk', 'mawk', 'nawk', 'tar', 'gtar', 'bsdtar', 'unzip', 'cpio', '7z', '7za', '7zr',
]);

export interface CwdState {
  /** Sandbox path, `~` for the home directory, or undefined once it depends on run-time values. */
  cwd: string | undefined;
  /** True once a `cd` in this command line moved away from the starting directory. */
  moved: boolean;
}

/** Updates the state for a `cd`/`pushd`/`popd`; returns false for any other command. */
export function followCd(n: NormalizedCommand, state: CwdState): boolean {
  if (n.program !== 'cd' && n.program !== 'pushd' && n.program !== 'popd') return false;
  state.moved = true;
  const target = n.operands[0];
  if (n.program === 'popd' || !target || target.dynamic !== 'none' || target.text === '-') {
    state.cwd = n.program !== 'popd' && !target ? '~' : undefined;
    return true;
  }
  if (state.cwd === undefined) return true;
  const t = target.text;
  state.cwd = t.startsWith('/') || t === '~' || t.startsWith('~/') ? canonicalPath(t) : canonicalPath(posix.join(state.cwd, t));
  return true;
}

function absolutize(o: Operand, cwd: string | undefined): Operand {
  if (o.dynamic !== 'none' || o.text.startsWith('/') || o.text.startsWith('~') || o.text.startsWith('-')) return o;
  const kv = /^([a-z]+)=(.*)$/.exec(o.text);
  if (kv) {
    const inner = absolutize({ text: kv[2]!, alts: [], dynamic: 'none' }, cwd);
    return { ...inner, text: `${kv[1]}=${inner.text}`, alts: inner.alts.map((a) => `${kv[1]}=${a}`) };
  }
  if (cwd === undefined) return { text: o.text, alts: [], dynamic: 'any' };
  const abs = pathOperand(canonicalPath(cwd === '~' ? `~/${o.text}` : posix.join(cwd, o.text)));
  return o.raw ? { ...abs, raw: o.raw } : abs;
}

/** The command as it will act after earlier `cd`s in the same command line. */
export function inCwd(n: NormalizedCommand, state: CwdState): NormalizedCommand {
  if (!state.moved || !FILE_PROGRAMS.has(n.program)) return n;
  const operands = n.operands.map((o) => absolutize(o, state.cwd));
  const values = n.values.map((v) => ({ flag: v.flag, value: absolutize(v.value, state.cwd) }));
  return { ...n, operands, values, dynamicFlags: n.dynamicFlags || (state.cwd === undefined && operands.some((o) => o.dynamic === 'any')) };
}
