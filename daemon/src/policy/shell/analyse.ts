// Turns a command line into the simple commands it would run, using unbash (a
// synchronous bash parser; see docs/policy.md for why not sh-syntax). Every
// nested place a command can hide — lists, pipelines, subshells, groups,
// if/while/for/case bodies, functions, $(…), `…`, <(…) — is walked. Anything
// whose effect depends on run-time values becomes a Finding, never a guess.
import { forEachChild, parse, type Command, type SyntaxNode, type Word, type WordPart } from 'unbash';
import type { AnalyseOptions, Analysis, Arg, Finding, Redirect, SimpleCommand } from './types.js';
import { expandWrappers } from './wrappers.js';

const DEFAULT_MAX_DEPTH = 4;
/** Bigger inputs are not analysed at all: the agent has no reason to send a 64 KiB command. */
export const MAX_COMMAND_LENGTH = 64 * 1024;

interface WalkCtx {
  pipedIn: boolean;
  inPipeline: boolean;
  background: boolean;
  functions: readonly string[];
}

const STATIC_PARTS = new Set(['Literal', 'SingleQuoted', 'AnsiCQuoted', 'Glob', 'ExtendedGlob']);

function partIsStatic(p: WordPart): boolean {
  if (STATIC_PARTS.has(p.type)) return true;
  if (p.type === 'DoubleQuoted') return p.parts.every((c) => c.type === 'Literal');
  return false;
}

const MAX_BRACE_WORDS = 64;

function splitTopLevel(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Bash brace expansion of comma lists (`/{usr,etc}` → `/usr /etc`); ranges stay literal. */
export function expandBraces(s: string): string[] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (s[i] === '}' && depth > 0) {
      depth--;
      if (depth === 0 && start >= 0) {
        const alts = splitTopLevel(s.slice(start + 1, i));
        if (alts.length > 1) {
          const pre = s.slice(0, start);
          const post = s.slice(i + 1);
          const out: string[] = [];
          for (const a of alts) {
            out.push(...expandBraces(pre + a + post));
            if (out.length > MAX_BRACE_WORDS) return out;
          }
          return out;
        }
        start = -1;
      }
    }
  }
  return [s];
}

/** Converts a parsed word to Args: static when no part needs run-time evaluation; brace lists expand to several. */
export function wordToArgs(w: Word): Arg[] {
  const parts = w.parts;
  // An unquoted `~user`, `~+` or `~-` expands to a directory known only at run
  // time (`~root` is /root, not a file named "~root" in the working directory).
  if (/^~[^/]/.test(w.text)) return [{ text: w.text, dynamic: 'any' }];
  if (!parts || parts.every(partIsStatic)) return [{ text: w.value, dynamic: 'none' }];
  if (parts.every((p) => partIsStatic(p) || p.type === 'BraceExpansion')) {
    // Expand over the static value; quoted braces are expanded too, which only adds words to check.
    const words = expandBraces(w.value);
    if (words.length <= MAX_BRACE_WORDS) return words.map((text) => ({ text, dynamic: 'none' }));
  }
  return [{ text: w.text, dynamic: 'any' }];
}

/** A single Arg for places that take one word (program name, redirection target). */
export function wordToArg(w: Word): Arg {
  const args = wordToArgs(w);
  return args.length === 1 ? args[0]! : { text: w.text, dynamic: 'any' };
}

function redirectOf(node: SyntaxNode): Redirect | undefined {
  if (node.type === 'Redirect' && node.target) return { op: node.operator, target: wordToArg(node.target) };
  return undefined;
}

class Walker {
  readonly commands: SimpleCommand[] = [];
  readonly findings: Finding[] = [];
  /** Names given to `alias` earlier in this script. */
  private readonly aliases = new Set<string>();
  /** Calls between functions defined in this script: caller → callee, and whether the call forks (pipeline/background). */
  private readonly calls: { from: string; to: string; forks: boolean }[] = [];
  constructor(
    private readonly opts: AnalyseOptions,
    private readonly depth: number,
  ) {}

  flag(f: Finding): void {
    if (!this.findings.some((x) => x.id === f.id && x.reason === f.reason)) this.findings.push(f);
  }

  visit(node: SyntaxNode, ctx: WalkCtx): void {
    switch (node.type) {
      case 'Script': {
        const errors = (node as { errors?: readonly { message: string }[] }).errors;
        if (errors?.length) {
          this.flag({ severity: 'unresolved', id: 'unresolved:parse-error', reason: `the command does not parse: ${errors[0]!.message}` });
        }
        forEachChild(node, (c) => this.visit(c, ctx));
        return;
      }
      case 'Statement':
        forEachChild(node, (c) => this.visit(c, { ...ctx, background: ctx.background || node.background === true }));
        return;
      case 'Pipeline': {
        const multi = node.commands.length > 1;
        node.commands.forEach((c, i) => this.visit(c, { ...ctx, pipedIn: i > 0, inPipeline: ctx.inPipeline || multi }));
        return;
      }
      case 'AndOr':
        node.commands.forEach((c, i) => {
          const first = this.commands.length;
          this.visit(c, { ...ctx, pipedIn: false });
          // What the approver reads between them: `make && deploy` runs deploy only if make succeeded.
          const op = node.operators[i - 1];
          if (op && this.commands[first]) this.commands[first]!.after = op;
        });
        return;
      case 'Function': {
        const name = node.name.value;
        forEachChild(node, (c) => this.visit(c, { ...ctx, functions: [...ctx.functions, name], pipedIn: false }));
        return;
      }
      case 'Command':
        this.command(node, ctx);
        forEachChild(node, (c) => this.visit(c, { ...ctx, pipedIn: false, inPipeline: false }));
        return;
      case 'ProcessSubstitution':
        this.flag({ severity: 'unresolved', id: 'unresolved:process-substitution', reason: `process substitution ${node.text.slice(0, 60)} feeds run-time output to a command` });
        forEachChild(node, (c) => this.visit(c, { ...ctx, pipedIn: false, inPipeline: false, background: false }));
        return;
      case 'CommandExpansion':
      case 'ArithmeticCommandExpansion':
        forEachChild(node, (c) => this.visit(c, { ...ctx, pipedIn: false, inPipeline: false, background: false }));
        return;
      default:
        forEachChild(node, (c) => this.visit(c, ctx));
    }
  }

  private command(node: Command, ctx: WalkCtx): void {
    if (!node.name) {
      // A bare redirection (`> /dev/sda`) still opens the file: judge it as the no-op `:`.
      const redirects = node.redirects.map(redirectOf).filter((r): r is Redirect => r !== undefined);
      if (redirects.length) this.commands.push({ argv: [{ text: ':', dynamic: 'none' }], redirects, via: [], pipedIn: ctx.pipedIn, hereInput: false });
      return; // assignments' words are still walked for substitutions
    }
    const argv: Arg[] = [wordToArg(node.name)];
    for (const a of node.args) {
      if (a.type === 'Word') argv.push(...wordToArgs(a));
      else argv.push({ text: a.text, dynamic: a.value.type === 'Word' && wordToArg(a.value).dynamic !== 'none' ? 'any' : 'none' });
    }
    const redirects: Redirect[] = [];
    let hereInput = false;
    for (const r of node.redirects) {
      if (r.type === 'HereDoc' || r.type === 'HereString') hereInput = true;
      const red = redirectOf(r);
      if (red) redirects.push(red);
    }
    const name = argv[0]!;
    if (name.dynamic === 'none' && name.text === 'alias') {
      for (const a of argv.slice(1)) if (a.text.includes('=')) this.aliases.add(a.text.slice(0, a.text.indexOf('=')));
    } else if (name.dynamic === 'none' && this.aliases.has(name.text)) {
      // /bin/sh (dash) expands an alias defined on an earlier line of the same script.
      this.flag({ severity: 'unresolved', id: 'unresolved:alias', reason: `${name.text} is an alias defined in this command; what it runs is not analysed` });
    }
    const caller = ctx.functions.at(-1);
    if (name.dynamic === 'none' && caller !== undefined) this.calls.push({ from: caller, to: name.text, forks: ctx.inPipeline || ctx.background });
    if (name.dynamic === 'none' && ctx.functions.includes(name.text) && (ctx.inPipeline || ctx.background)) {
      // A function that starts copies of itself in a pipeline or in the background
      // grows without bound: the fork bomb, whatever it is named.
      this.flag({ severity: 'deny', id: 'builtin:fork-bomb', reason: `function ${name.text} spawns itself in a pipeline/background (fork bomb)` });
    }
    const assigns = node.prefix.filter((p) => p.type === 'Assignment').map((p) => p.text);
    const simple: SimpleCommand = { argv, redirects, via: [], pipedIn: ctx.pipedIn, hereInput, ...(assigns.length ? { assigns } : {}) };
    const expanded = expandWrappers(simple, {
      depth: this.depth,
      maxDepth: this.opts.maxDepth ?? DEFAULT_MAX_DEPTH,
      sessionWritten: this.opts.sessionWritten,
      reparse: (text, via) => this.nested(text, via),
    });
    this.commands.push(...expanded.commands);
    for (const f of expanded.findings) this.flag(f);
  }

  /**
   * Recursion through any number of functions (`a(){ b|b& }; b(){ a|a& }`) that
   * forks on the way round grows without bound just like the one-function fork
   * bomb: a call cycle containing a forking call is denied, whatever the names.
   */
  checkRecursion(): void {
    const edges = new Map<string, Set<string>>();
    for (const c of this.calls) edges.set(c.from, (edges.get(c.from) ?? new Set()).add(c.to));
    const reaches = (from: string, to: string): boolean => {
      const seen = new Set<string>();
      const stack = [from];
      while (stack.length) {
        const f = stack.pop()!;
        if (f === to) return true;
        if (seen.has(f)) continue;
        seen.add(f);
        for (const g of edges.get(f) ?? []) stack.push(g);
      }
      return false;
    };
    for (const c of this.calls) {
      if (c.forks && reaches(c.to, c.from)) {
        this.flag({ severity: 'deny', id: 'builtin:fork-bomb', reason: `functions ${c.from} and ${c.to} call each other with pipelines/background jobs (fork bomb)` });
        return;
      }
    }
  }

  /** Analyses a string the shell would itself parse and run (`sh -c STRING`, `env -S`, `trap`). */
  private nested(text: string, via: string[]): SimpleCommand[] {
    const maxDepth = this.opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (this.depth + 1 > maxDepth) {
      this.flag({ severity: 'unresolved', id: 'unresolved:nesting', reason: `shell strings nested deeper than ${maxDepth} levels` });
      return [];
    }
    const inner = analyseAt(text, this.opts, this.depth + 1);
    for (const f of inner.findings) this.flag(f);
    return inner.commands.map((c) => ({ ...c, via: [...via, ...c.via] }));
  }
}

function analyseAt(command: string, opts: AnalyseOptions, depth: number): Analysis {
  const walker = new Walker(opts, depth);
  let script;
  try {
    script = parse(command);
  } catch (err) {
    walker.flag({ severity: 'unresolved', id: 'unresolved:parse-error', reason: `the command does not parse: ${(err as Error).message}` });
    return { commands: [], findings: walker.findings };
  }
  walker.visit(script, { pipedIn: false, inPipeline: false, background: false, functions: [] });
  walker.checkRecursion();
  return { commands: walker.commands, findings: walker.findings };
}

/** Parses and walks one command line. Pure apart from reading `opts`; never throws for any input string. */
export function analyseShell(command: string, opts: AnalyseOptions = {}): Analysis {
  if (command.length > MAX_COMMAND_LENGTH) {
    return { commands: [], findings: [{ severity: 'unresolved', id: 'unresolved:too-long', reason: `the command is longer than ${MAX_COMMAND_LENGTH} characters` }] };
  }
  return analyseAt(command, opts, 0);
}
