// Looks through programs that run another program (sudo, env, nice, timeout,
// xargs, find -exec, sh -c …) so rules see the command that really runs, and
// flags the constructs whose effect cannot be known statically.
import { posix } from 'node:path';
import type { Arg, Finding, SimpleCommand } from './types.js';

export interface ExpandOptions {
  depth: number;
  maxDepth: number;
  sessionWritten: ReadonlySet<string> | undefined;
  /** Parses a string the shell would run (sh -c) and returns its commands. */
  reparse(text: string, via: string[]): SimpleCommand[];
}

interface OptSpec {
  /** Short options that take a value (`-u root`, `-uroot`). */
  short?: string;
  /** Long options that take a value when not written `--opt=value`. */
  long?: readonly string[];
  /** `nice -10`, `timeout` style numeric options. */
  numeric?: boolean;
}

/** Program name as the kernel would find it: path normalized, then its basename. */
export function programName(text: string): string {
  if (!text.includes('/')) return text;
  const n = posix.normalize(text);
  return posix.basename(n) || n;
}

/** Index of the first argument after the options described by `spec` (argv[0] is the wrapper itself). */
function skipOptions(argv: readonly Arg[], spec: OptSpec, start = 1): number {
  let i = start;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a.dynamic !== 'none') return i;
    const t = a.text;
    if (t === '--') return i + 1;
    if (t.startsWith('--')) {
      const name = t.slice(2).split('=')[0]!;
      i += !t.includes('=') && spec.long?.includes(name) ? 2 : 1;
      continue;
    }
    if (t.startsWith('-') && t.length > 1) {
      if (spec.numeric && /^-\d+$/.test(t)) {
        i += 1;
        continue;
      }
      let consumed = 1;
      for (let k = 1; k < t.length; k++) {
        if (spec.short?.includes(t[k]!)) {
          if (k === t.length - 1) consumed = 2; // value is the next word
          break; // value is the rest of this word
        }
      }
      i += consumed;
      continue;
    }
    return i;
  }
  return i;
}

const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'ash', 'mksh', 'fish', 'rbash', 'busybox-sh']);
const INTERPRETERS = new Set([
  'python', 'python2', 'python3', 'node', 'nodejs', 'deno', 'bun', 'perl', 'ruby', 'php', 'lua', 'tclsh', 'Rscript', 'awk', 'gawk', 'osascript', 'pwsh',
]);
const SIMPLE_WRAPPERS: Readonly<Record<string, OptSpec>> = {
  sudo: { short: 'ugCDhprtTU', long: ['user', 'group', 'close-from', 'chdir', 'host', 'prompt', 'role', 'type', 'command-timeout', 'other-user'] },
  doas: { short: 'uC' },
  nice: { short: 'n', long: ['adjustment'], numeric: true },
  nohup: {},
  setsid: {},
  ionice: { short: 'cnp', long: ['class', 'classdata', 'pid'] },
  stdbuf: { short: 'ioe', long: ['input', 'output', 'error'] },
  builtin: {},
  exec: { short: 'a' },
  unbuffer: {},
  busybox: {},
  time: { short: 'fo', long: ['format', 'output'] },
  strace: { short: 'oesuEpPIbXS', long: ['output', 'trace', 'signal', 'user', 'env'] },
  ltrace: { short: 'oesuEpnlAa', long: ['output'] },
  valgrind: {},
  unshare: { short: 'S', long: ['setuid', 'setgid', 'map-user', 'map-group', 'root', 'wd'] },
  nsenter: { short: 'tSGrw', long: ['target', 'setuid', 'setgid', 'root', 'wd'] },
  catchsegv: {},
};

/** Package runners that fetch and run a named tool: `npx rimraf /` runs `rimraf /`. */
const PACKAGE_RUNNERS: Readonly<Record<string, readonly string[]>> = { npx: [], bunx: [], pnpx: [], npm: ['exec', 'x'], pnpm: ['dlx', 'exec'], yarn: ['dlx', 'exec'] };

function isPython(name: string): boolean {
  return INTERPRETERS.has(name) || /^python\d(\.\d+)?$/.test(name) || /^node\d*$/.test(name);
}

export interface Expanded {
  commands: SimpleCommand[];
  findings: Finding[];
}

export function expandWrappers(cmd: SimpleCommand, opts: ExpandOptions): Expanded {
  const out: Expanded = { commands: [], findings: [] };
  expand(cmd, opts, out, 0);
  return out;
}

function unresolved(out: Expanded, id: string, reason: string): void {
  out.findings.push({ severity: 'unresolved', id: `unresolved:${id}`, reason });
}

/**
 * A command whose program cannot be known: the finding decides (ask or deny), and the
 * command itself still counts, so the rules see it (a deny rule for it still wins) and
 * what a human approves reads `curl … ; sh`, not `curl …` with the `sh` gone.
 */
function unresolvedRun(out: Expanded, cmd: SimpleCommand, id: string, reason: string): void {
  unresolved(out, id, reason);
  out.commands.push(cmd);
}

function rest(cmd: SimpleCommand, from: number, wrapper: string, extra: Partial<SimpleCommand> = {}): SimpleCommand {
  return { ...cmd, argv: cmd.argv.slice(from), via: [...cmd.via, wrapper], ...extra };
}

function expand(cmd: SimpleCommand, opts: ExpandOptions, out: Expanded, hops: number): void {
  const first = cmd.argv[0];
  if (!first) return;
  if (hops > 16) {
    unresolvedRun(out, cmd, 'nesting', 'more than 16 nested wrapper programs');
    return;
  }
  if (first.dynamic !== 'none') {
    unresolved(out, 'dynamic-command', `the program name ${first.text} is only known at run time (variable or command substitution in command position)`);
    out.commands.push(cmd);
    return;
  }
  const name = programName(first.text);
  const next = (c: SimpleCommand) => expand(c, opts, out, hops + 1);
  const spec = SIMPLE_WRAPPERS[name];
  if (name === 'sudo' && cmd.argv.some((a) => a.text === '-D' || a.text.startsWith('--chdir'))) {
    unresolved(out, 'chdir', 'sudo -D runs the command in another directory');
  }
  if (spec) {
    const i = skipOptions(cmd.argv, spec);
    if (i < cmd.argv.length) next(rest(cmd, i, name));
    else out.commands.push(cmd);
    return;
  }
  const runner = PACKAGE_RUNNERS[name];
  if (runner && (runner.length === 0 || runner.includes(cmd.argv[1]?.text ?? ''))) return expandRunner(cmd, name, runner.length ? 2 : 1, opts, out, next);
  switch (name) {
    case 'env':
      return expandEnv(cmd, opts, out, next);
    case 'timeout': {
      const i = skipOptions(cmd.argv, { short: 'ks', long: ['kill-after', 'signal'] });
      if (i + 1 < cmd.argv.length) next(rest(cmd, i + 1, 'timeout'));
      else out.commands.push(cmd);
      return;
    }
    case 'chroot':
    case 'flock': {
      const i = skipOptions(cmd.argv, { short: name === 'flock' ? 'wEc' : '', long: ['userspec', 'groups', 'timeout', 'conflict-exit-code'] });
      if (name === 'flock' && cmd.argv[i + 1]?.text === '-c') return expandString(cmd, i + 2, opts, out, 'flock -c');
      if (i + 1 < cmd.argv.length) next(rest(cmd, i + 1, name));
      else out.commands.push(cmd);
      return;
    }
    case 'command': {
      const i = skipOptions(cmd.argv, {});
      if (cmd.argv.slice(1, i).some((a) => /^-[a-zA-Z]*[vV]/.test(a.text))) return; // `command -v x` only looks x up
      if (i < cmd.argv.length) next(rest(cmd, i, 'command'));
      return;
    }
    case 'xargs':
      return expandXargs(cmd, next);
    case 'find':
      return expandFind(cmd, out, next);
    case 'eval': {
      const words = cmd.argv.slice(1);
      if (words.length && words.every((w) => w.dynamic === 'none')) {
        unresolved(out, 'eval', 'eval runs a string built at run time');
        out.commands.push(...opts.reparse(words.map((w) => w.text).join(' '), [...cmd.via, 'eval']));
      } else unresolvedRun(out, cmd, 'eval', 'eval runs a string built at run time');
      return;
    }
    case 'source':
    case '.':
      return checkSource(cmd, opts, out);
    case 'trap': {
      const code = cmd.argv[1];
      if (code && code.dynamic === 'none' && !code.text.startsWith('-')) out.commands.push(...opts.reparse(code.text, [...cmd.via, 'trap']));
      else if (code && code.dynamic !== 'none') unresolved(out, 'dynamic-string', 'trap with a handler built at run time');
      out.commands.push(cmd);
      return;
    }
    case 'watch': {
      const i = skipOptions(cmd.argv, { short: 'nqd', long: ['interval', 'differences'] });
      const words = cmd.argv.slice(i);
      if (words.length && words.every((w) => w.dynamic === 'none')) out.commands.push(...opts.reparse(words.map((w) => w.text).join(' '), [...cmd.via, 'watch']));
      else if (words.length) unresolvedRun(out, cmd, 'dynamic-string', 'watch with a command built at run time');
      return;
    }
    case 'su': {
      const c = cmd.argv.findIndex((a, k) => k > 0 && (a.text === '-c' || a.text === '--command'));
      if (c > 0) return expandString(cmd, c + 1, opts, out, 'su -c');
      out.commands.push(cmd);
      return;
    }
  }
  if (SHELLS.has(name)) return expandShell(cmd, name, opts, out);
  if (isPython(name)) return checkInterpreter(cmd, name, out);
  out.commands.push(cmd);
}

function expandEnv(cmd: SimpleCommand, opts: ExpandOptions, out: Expanded, next: (c: SimpleCommand) => void): void {
  let i = 1;
  const assigns = [...(cmd.assigns ?? [])];
  while (i < cmd.argv.length) {
    const a = cmd.argv[i]!;
    const t = a.text;
    if (a.dynamic !== 'none') break;
    if (t === '-S' || t === '--split-string' || t.startsWith('--split-string=') || (t.startsWith('-S') && t.length > 2)) {
      // env -S 'prog args' splits the string into words: analyse it as a command line.
      const inline = t.startsWith('--split-string=') ? t.slice(15) : t.startsWith('-S') && t.length > 2 ? t.slice(2) : undefined;
      const str = inline ?? cmd.argv[i + 1]?.text;
      const strArg = inline === undefined ? cmd.argv[i + 1] : a;
      if (!strArg || strArg.dynamic !== 'none' || str === undefined) {
        unresolvedRun(out, cmd, 'dynamic-string', 'env -S with a string built at run time');
        return;
      }
      const tail = cmd.argv.slice(inline === undefined ? i + 2 : i + 1);
      if (tail.some((w) => w.dynamic !== 'none')) unresolved(out, 'dynamic-string', 'env -S followed by run-time arguments');
      out.commands.push(...opts.reparse([str, ...tail.map((w) => w.text)].join(' '), [...cmd.via, 'env -S']));
      return;
    }
    if (t === '-C' || t === '--chdir' || t.startsWith('--chdir=') || (t.startsWith('-C') && t.length > 2)) {
      // The command runs elsewhere than the rules will assume: do not guess.
      unresolved(out, 'chdir', 'env -C runs the command in another directory');
      i += t.includes('=') || t.length > 2 && !t.startsWith('--') ? 1 : 2;
    } else if (t === '-u' || t === '--unset') i += 2;
    else if (t === '--') {
      i += 1;
      break;
    } else if (t.startsWith('-') && t.length > 1) i += 1;
    else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(t)) {
      assigns.push(/[^\w=./:,@%+-]/.test(t) ? `${t.slice(0, t.indexOf('=') + 1)}${JSON.stringify(t.slice(t.indexOf('=') + 1))}` : t);
      i += 1;
    } else break;
  }
  if (i < cmd.argv.length) next(rest(cmd, i, 'env', assigns.length ? { assigns } : {}));
  else out.commands.push(cmd);
}

function expandString(cmd: SimpleCommand, at: number, opts: ExpandOptions, out: Expanded, via: string): void {
  const s = cmd.argv[at];
  if (!s) {
    out.commands.push(cmd);
    return;
  }
  if (s.dynamic !== 'none') {
    unresolvedRun(out, cmd, 'dynamic-string', `${via} runs a string built at run time`);
    return;
  }
  out.commands.push(...opts.reparse(s.text, [...cmd.via, via]));
}

function expandShell(cmd: SimpleCommand, name: string, opts: ExpandOptions, out: Expanded): void {
  // Find -c among the shell's options (it may be clustered: -ec, -lc, -xc).
  let i = 1;
  let hasC = false;
  while (i < cmd.argv.length) {
    const t = cmd.argv[i]!.text;
    if (cmd.argv[i]!.dynamic !== 'none') break;
    if (t === '--') {
      i += 1;
      break;
    }
    if (t === '-o' || t === '+o' || t === '-O' || t === '+O' || t === '--rcfile' || t === '--init-file') {
      i += 2;
      continue;
    }
    if (/^[-+][a-zA-Z]+$/.test(t)) {
      if (t.startsWith('-') && t.includes('c')) hasC = true;
      i += 1;
      continue;
    }
    if (t.startsWith('--')) {
      i += 1;
      continue;
    }
    break;
  }
  if (hasC) return expandString(cmd, i, opts, out, `${name} -c`);
  const reads = cmd.argv.slice(1).some((a) => /^-[a-zA-Z]*s/.test(a.text)) || i >= cmd.argv.length || cmd.argv[i]?.text === '-';
  if (reads && (cmd.pipedIn || cmd.hereInput)) {
    unresolvedRun(out, cmd, 'interpreter-stdin', `${name} would run a program read from a pipe or here-document`);
    return;
  }
  if (reads && cmd.redirects.some((r) => r.op === '<')) {
    const file = cmd.redirects.find((r) => r.op === '<')!.target;
    if (file.dynamic !== 'none' || wasWritten(file.text, opts)) {
      unresolvedRun(out, cmd, 'source-written', `${name} would run ${file.text}, which was written in this session`);
      return;
    }
  }
  out.commands.push(cmd);
}

function checkInterpreter(cmd: SimpleCommand, name: string, out: Expanded): void {
  const inline = cmd.argv.slice(1).some((a) => /^-[a-zA-Z]*[ceEm]$|^--eval$|^--command$/.test(a.text));
  const operands = cmd.argv.slice(1).filter((a) => !a.text.startsWith('-'));
  if (!inline && (operands.length === 0 || cmd.argv.some((a) => a.text === '-')) && (cmd.pipedIn || cmd.hereInput)) {
    unresolvedRun(out, cmd, 'interpreter-stdin', `${name} would run a program read from a pipe or here-document`);
    return;
  }
  out.commands.push(cmd);
}

function wasWritten(path: string, opts: ExpandOptions): boolean {
  if (!opts.sessionWritten?.size) return false;
  const n = posix.normalize(path).replace(/\/+$/, '');
  for (const w of opts.sessionWritten) {
    const wn = posix.normalize(w).replace(/\/+$/, '');
    if (wn === n || wn.endsWith('/' + n.replace(/^\.\//, ''))) return true;
  }
  return false;
}

function checkSource(cmd: SimpleCommand, opts: ExpandOptions, out: Expanded): void {
  const file = cmd.argv[1];
  if (!file) return;
  if (file.dynamic !== 'none') unresolved(out, 'source-dynamic', `source of a path only known at run time (${file.text})`);
  else if (wasWritten(file.text, opts)) unresolved(out, 'source-written', `source of ${file.text}, which was written in this session`);
  out.commands.push(cmd);
}

const XARGS_SPEC: OptSpec = { short: 'adEeIiLlnPs', long: ['arg-file', 'delimiter', 'eof', 'replace', 'max-lines', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'] };

function expandXargs(cmd: SimpleCommand, next: (c: SimpleCommand) => void): void {
  const i = skipOptions(cmd.argv, XARGS_SPEC);
  const iOpt = cmd.argv.slice(1, i).findIndex((a) => a.text === '-I' || a.text.startsWith('-I') || a.text.startsWith('--replace'));
  const stdinArg: Arg = { text: '{stdin}', dynamic: 'operand' };
  const inner = i < cmd.argv.length ? cmd.argv.slice(i) : [{ text: 'echo', dynamic: 'none' as const }];
  // Arguments xargs reads from stdin are unknown operands; with -I they replace the placeholder.
  const argv = iOpt >= 0 ? inner.map((a, k) => (k > 0 && a.text.includes('{}') ? stdinArg : a)) : [...inner, stdinArg];
  next({ ...cmd, argv, via: [...cmd.via, 'xargs'], pipedIn: false });
}

const FIND_EXEC = new Set(['-exec', '-execdir', '-ok', '-okdir']);

function expandFind(cmd: SimpleCommand, out: Expanded, next: (c: SimpleCommand) => void): void {
  const args = cmd.argv.slice(1);
  const starts: Arg[] = [];
  for (const a of args) {
    if (a.text.startsWith('-') || a.text === '(' || a.text === '!') break;
    starts.push(a);
  }
  if (!starts.length) starts.push({ text: '.', dynamic: 'none' });
  out.commands.push(cmd);
  for (let k = 0; k < args.length; k++) {
    if (!FIND_EXEC.has(args[k]!.text)) continue;
    const end = args.findIndex((a, j) => j > k && (a.text === ';' || a.text === '+'));
    const inner = args.slice(k + 1, end < 0 ? undefined : end);
    // `{}` is each file found, the start path itself included: substitute the start paths.
    for (const s of starts) next({ ...cmd, argv: inner.map((a) => (a.text === '{}' ? s : a)), via: [...cmd.via, `find ${args[k]!.text}`], pipedIn: false, hereInput: false, redirects: [] });
    if (end < 0) break;
    k = end;
  }
}

function expandRunner(cmd: SimpleCommand, name: string, from: number, opts: ExpandOptions, out: Expanded, next: (c: SimpleCommand) => void): void {
  const call = cmd.argv.findIndex((a, k) => k >= from && (a.text === '-c' || a.text === '--call'));
  if (call > 0) return expandString(cmd, call + 1, opts, out, `${name} -c`);
  const i = skipOptions(cmd.argv, { short: 'p', long: ['package', 'registry', 'cache', 'userconfig', 'workspace'] }, from);
  if (i < cmd.argv.length) next(rest(cmd, i, name));
  else out.commands.push(cmd);
}
