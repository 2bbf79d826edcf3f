// Rules: allow / ask / deny over normalized argv, with globs. A rule is written
// like a command (`rm -r -f /`, `dd of=/dev/sd*`, `git push -f **`) and is
// normalized exactly like the commands it judges, so flag order, clustering
// and long options never matter.
//
// Matching: the program must match; every flag in the rule must be present;
// operands of deny/ask rules may appear anywhere in the command (a rule for
// `rm -r /` catches `rm -rf build /`), while operands of allow rules must be
// the command's leading operands in order (an allow for `git status` does not
// allow `git push status`). Deny/ask rules therefore err towards matching,
// allow rules towards not matching.
import { normalizeArgv, type NormalizedCommand } from './shell/normalize.js';
import type { Arg } from './shell/types.js';

export type Effect = 'allow' | 'ask' | 'deny';

export interface RuleSpec {
  effect: Effect;
  /** The command pattern, e.g. `rm -r -f /`. */
  pattern: string;
  /** Stable id shown as the deciding rule; generated from source + pattern when absent. */
  id?: string;
  /** Message for the agent when this rule denies or asks. */
  reason?: string;
  /** Example commands this rule must match (checked when the policy loads). */
  match?: readonly string[];
  /** Example commands this rule must not match (checked when the policy loads). */
  not_match?: readonly string[];
}

export interface Rule {
  id: string;
  effect: Effect;
  pattern: string;
  reason: string;
  match: readonly string[];
  notMatch: readonly string[];
  /** Loki Mode LOKI_BLOCKED_COMMANDS semantics: `mkfs` also catches `mkfs.ext4`. */
  dottedVariants: boolean;
  program: RegExp;
  flags: RegExp[];
  operands: (RegExp | 'rest')[];
}

export type MatchResult = 'yes' | 'maybe' | 'no';

/** Splits a rule pattern into words: whitespace-separated, single and double quotes group. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let has = false;
  for (const ch of s) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += ch;
  }
  if (has || cur) out.push(cur);
  return out;
}

/** Glob → anchored regex: `*` any run (slashes included), `?` one char, `[…]` a class, `{a,b}` alternatives. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map((p) => globToRegExp(p).source.slice(1, -1)).join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export function compileRule(spec: RuleSpec, source: string, opts: { dottedVariants?: boolean } = {}): Rule {
  const words = splitWords(spec.pattern);
  if (!words.length) throw new Error('the pattern is empty');
  const n = normalizeArgv(words.map((w): Arg => ({ text: w, dynamic: 'none' })));
  return {
    id: spec.id ?? `${source}:${spec.effect}:${n.text}`,
    effect: spec.effect,
    pattern: spec.pattern,
    reason: spec.reason ?? (spec.effect === 'deny' ? `blocked by policy rule "${n.text}"` : spec.effect === 'ask' ? `needs approval under rule "${n.text}"` : `allowed by rule "${n.text}"`),
    match: spec.match ?? [],
    notMatch: spec.not_match ?? [],
    dottedVariants: opts.dottedVariants ?? false,
    program: globToRegExp(n.program),
    flags: n.flags.map(globToRegExp),
    operands: n.operands.map((o) => (o.text === '**' ? 'rest' : globToRegExp(o.text))),
  };
}

function programMatches(rule: Rule, cmd: NormalizedCommand): MatchResult {
  if (cmd.programDynamic) return 'maybe';
  if (rule.program.test(cmd.program)) return 'yes';
  if (rule.dottedVariants) {
    const dot = cmd.program.indexOf('.');
    if (dot > 0 && rule.program.test(cmd.program.slice(0, dot))) return 'yes';
  }
  return 'no';
}

function operandForms(o: { text: string; alts: string[] }): string[] {
  return [o.text, ...o.alts];
}

/** Deny/ask operands: each rule operand must take a distinct command operand, in any order. */
function unorderedOperands(rule: Rule, cmd: NormalizedCommand): MatchResult {
  const wanted = rule.operands.filter((o): o is RegExp => o !== 'rest');
  const used = new Set<number>();
  let maybe = false;
  for (const re of wanted) {
    let hit = cmd.operands.findIndex((o, i) => !used.has(i) && o.dynamic === 'none' && operandForms(o).some((f) => re.test(f)));
    if (hit < 0) {
      // A run-time value could be exactly what the rule names: fail closed to "maybe".
      hit = cmd.operands.findIndex((o, i) => !used.has(i) && o.dynamic !== 'none');
      if (hit < 0) return 'no';
      maybe = true;
    }
    used.add(hit);
  }
  return maybe ? 'maybe' : 'yes';
}

/** Allow operands: the command's leading operands, in order; `**` accepts any rest. */
function prefixOperands(rule: Rule, cmd: NormalizedCommand): MatchResult {
  for (let i = 0; i < rule.operands.length; i++) {
    const re = rule.operands[i]!;
    if (re === 'rest') return 'yes';
    const o = cmd.operands[i];
    if (!o || o.dynamic !== 'none' || !re.test(o.text)) return 'no';
  }
  return 'yes';
}

export function matchRule(rule: Rule, cmd: NormalizedCommand): MatchResult {
  const p = programMatches(rule, cmd);
  if (p === 'no') return 'no';
  let maybe = p === 'maybe';
  for (const f of rule.flags) {
    if (cmd.flags.some((g) => f.test(g))) continue;
    if (!cmd.dynamicFlags || rule.effect === 'allow') return 'no';
    maybe = true;
  }
  const o = rule.effect === 'allow' ? prefixOperands(rule, cmd) : unorderedOperands(rule, cmd);
  if (o === 'no') return 'no';
  if (rule.effect === 'allow' && maybe) return 'no';
  return maybe || o === 'maybe' ? 'maybe' : 'yes';
}

/**
 * Parses LOKI_BLOCKED_COMMANDS entries (Loki Mode syntax): each entry is a
 * command prefix; a word ending in `=` (`dd if=`) matches any value, and the
 * program also matches its dotted variants (`mkfs` → `mkfs.ext4`).
 */
export function blockedCommandRule(entry: string, index: number): Rule {
  const words = splitWords(entry).map((w) => (w.endsWith('=') ? `${w}*` : w));
  const pattern = words.map((w) => (/[\s'"]/.test(w) ? JSON.stringify(w) : w)).join(' ');
  return compileRule({ effect: 'deny', pattern, id: `env:LOKI_BLOCKED_COMMANDS[${index}]`, reason: `blocked by LOKI_BLOCKED_COMMANDS entry "${entry.trim()}"` }, 'env', { dottedVariants: true });
}
