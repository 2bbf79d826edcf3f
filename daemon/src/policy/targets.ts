// Which operands of a command are files it writes or deletes, so they go
// through the path policy too (`rm -rf /etc`, `cp x /etc/passwd`, `tee /dev/sda`).
// Covers the common file-writing programs; anything else is left to the
// sandbox mount, which is the hard boundary.
import type { NormalizedCommand, Operand } from './shell/normalize.js';

const ALL_OPERANDS = new Set(['rm', 'rmdir', 'unlink', 'shred', 'truncate', 'touch', 'mkdir', 'tee', 'mv']);
const LAST_OPERAND = new Set(['cp', 'install', 'ln', 'rsync']);
// ddrescue INFILE OUTFILE [MAPFILE]: writes every operand after the first.
const AFTER_FIRST = new Set(['chmod', 'chown', 'chgrp', 'ddrescue']);

/** Operands that name files the command writes or deletes (dynamic ones included, for fail-closed handling). */
export function writeTargets(n: NormalizedCommand): Pick<Operand, 'text' | 'dynamic'>[] {
  // Stdin-fed operands (xargs) are unknowable here; the sandbox mount bounds them.
  const ops = n.operands.filter((o) => o.dynamic !== 'operand');
  if (ALL_OPERANDS.has(n.program)) return ops;
  if (LAST_OPERAND.has(n.program)) return n.operands.length > 1 && ops.length ? [ops[ops.length - 1]!] : [];
  if (AFTER_FIRST.has(n.program)) return ops.slice(1);
  if (n.program === 'dd') {
    return ops.filter((o) => o.text.startsWith('of=')).map((o) => ({ text: o.text.slice(3), dynamic: o.dynamic }));
  }
  if (n.program === 'find' && n.operands.some((o) => o.text === '-delete')) {
    const starts: Pick<Operand, 'text' | 'dynamic'>[] = [];
    for (const o of n.operands) {
      if (o.text.startsWith('-') || o.text === '(' || o.text === '!') break;
      starts.push(o);
    }
    return starts.length ? starts : [{ text: '.', dynamic: 'none' }];
  }
  return [];
}
