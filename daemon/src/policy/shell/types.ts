// Domain types for the shell analysis: what a command line will run, as far as
// it can be known statically, plus everything that could not be known.

/** One argument word. `dynamic` words contain expansions whose value is decided at run time. */
export interface Arg {
  /** The word with quotes removed (static parts) or its source text (dynamic parts). */
  text: string;
  /**
   * `none`: fully static. `any`: a shell expansion; its value could be a flag or an operand.
   * `operand`: appended by xargs from stdin; treated as an unknown operand.
   */
  dynamic: 'none' | 'any' | 'operand';
}

export interface Redirect {
  op: string;
  target: Arg;
}

/** One simple command after looking through wrappers, with its raw argv. */
export interface SimpleCommand {
  argv: Arg[];
  redirects: Redirect[];
  /** Wrappers looked through to reach this command, outermost first (`sudo`, `sh -c`, …). */
  via: string[];
  /** True when stdin comes from a pipe (a previous pipeline element). */
  pipedIn: boolean;
  /** `&&` / `||` when it runs only if the command before it succeeded / failed. */
  after?: '&&' | '||';
  /** Heredoc or here-string attached to this command. */
  hereInput: boolean;
  /** Variables it runs with (`LD_PRELOAD=x.so cmd`, `env X=y cmd`): not judged by rules, but shown to approvers. */
  assigns?: string[];
}

export type FindingSeverity = 'deny' | 'unresolved';

/** Something the analysis flags by itself, before any rule runs. */
export interface Finding {
  severity: FindingSeverity;
  /** Stable id, shown as the deciding rule: `builtin:fork-bomb`, `unresolved:eval`, … */
  id: string;
  reason: string;
}

export interface Analysis {
  commands: SimpleCommand[];
  findings: Finding[];
}

export interface AnalyseOptions {
  /** Paths the agent wrote earlier in this session; `source`-ing one is unresolvable. */
  sessionWritten?: ReadonlySet<string>;
  /** Maximum nesting of `sh -c` / `env -S` / `trap` strings before failing closed. */
  maxDepth?: number;
}
