// The decision function: one structured action in, one decision out. Pure and
// synchronous (apart from reading symlinks inside the workspace), so it is
// cheap to call for every action and easy to test.
import { createHash } from 'node:crypto';
import { LokiError } from '../../../common/src/index.js';
import { AUTONOMY_MODES, isOneOf, type AutonomyMode, type DecisionKind } from '../../../common/src/vocab.js';
import { type PathPolicy, type PathContext, type PathOp } from './paths.js';
import { matchRule, type Rule } from './rules.js';
import { analyseShell } from './shell/analyse.js';
import { normalizeArgv, type NormalizedCommand } from './shell/normalize.js';
import type { SimpleCommand } from './shell/types.js';
import { writeTargets } from './targets.js';
import { followCd, inCwd, type CwdState } from './cwd.js';

export type { DecisionKind, AutonomyMode } from '../../../common/src/vocab.js';

export type Action =
  | { kind: 'shell'; command: string }
  | { kind: 'write' | 'read' | 'delete'; path: string }
  | { kind: 'commit'; message: string }
  | { kind: 'phase'; name: string };

export interface Profile {
  name: string;
  description: string;
  default: DecisionKind;
  failClosed: 'ask' | 'deny';
  writes: 'allow' | 'ask';
  commit: 'allow' | 'ask';
  mode?: AutonomyMode;
  /** Built-in deny rules, then config/env rules, then the profile's own rules. */
  rules: readonly Rule[];
}

export interface DecideContext {
  sessionId: string;
  /** Profile chosen at session start; absent = the configured default. */
  profile?: string;
  /** Autonomy mode chosen at session start; overrides the profile's and the daemon-wide mode. */
  mode?: AutonomyMode;
  workspace?: string;
  hostWorkspace?: string;
  cwd?: string;
  /** Paths the agent wrote earlier in this session (sourcing one fails closed). */
  sessionWritten?: ReadonlySet<string>;
}

export interface CommandReport {
  normalized: string;
  via: string[];
  decision: DecisionKind;
  rule: string;
  reason: string;
}

export interface Decision {
  decision: DecisionKind;
  /** Readable by the agent so it can adapt. */
  reason: string;
  /** The rule, finding or mode that decided (`builtin:rm-root`, `unresolved:eval`, `mode:supervised`). */
  rule: string;
  /** Printable normalized action (`rm -r -f /` ; …). */
  normalized: string;
  /** SHA-256 over the canonical action + session: what an approval is bound to. */
  actionHash: string;
  profile: string;
  mode: AutonomyMode;
  commands: CommandReport[];
}

export interface EngineOptions {
  profiles: ReadonlyMap<string, Profile>;
  defaultProfile: string;
  mode: AutonomyMode;
  paths: PathPolicy;
  /** Workspace assumed when a request names none (sandbox path). */
  workspace: string;
}

interface Verdict {
  decision: DecisionKind;
  rule: string;
  reason: string;
}

const RANK: Readonly<Record<DecisionKind, number>> = { allow: 0, ask: 1, deny: 2 };
// `>&FILE` (bash's older spelling of `&>FILE`) writes FILE; `>&2`/`>&-` are fd dups and are skipped below.
const WRITE_REDIRECTS = new Set(['>', '>>', '>|', '&>', '&>>', '<>', '>&']);

function worst(a: Verdict, b: Verdict): Verdict {
  return RANK[b.decision] > RANK[a.decision] ? b : a;
}

/** Canonical JSON (sorted keys) so the same action always hashes the same. */
function canonical(v: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))));
}

export function actionHash(sessionId: string, action: Action): string {
  const fields: Record<string, string> = { v: '1', session: sessionId, kind: action.kind };
  if (action.kind === 'shell') fields.command = action.command;
  else if (action.kind === 'commit') fields.message = action.message;
  else if (action.kind === 'phase') fields.name = action.name;
  else fields.path = action.path;
  return createHash('sha256').update(canonical(fields)).digest('hex');
}

export class PolicyEngine {
  constructor(private readonly opts: EngineOptions) {
    if (!opts.profiles.has(opts.defaultProfile)) throw new LokiError('invalid_config', `policy.default_profile: unknown profile "${opts.defaultProfile}"`);
  }

  profileNames(): string[] {
    return [...this.opts.profiles.keys()];
  }

  get defaultProfile(): string {
    return this.opts.defaultProfile;
  }

  profile(name?: string): Profile {
    const p = this.opts.profiles.get(name || this.opts.defaultProfile);
    if (!p) throw new LokiError('invalid_argument', `unknown policy profile "${name}" (known: ${this.profileNames().join(', ')})`);
    return p;
  }

  modeFor(profile: Profile): AutonomyMode {
    return profile.mode ?? this.opts.mode;
  }

  decide(action: Action, ctx: DecideContext): Decision {
    validateAction(action);
    if (!ctx.sessionId) throw new LokiError('invalid_argument', 'session_id is required');
    const profile = this.profile(ctx.profile);
    if (ctx.mode !== undefined && !isOneOf(AUTONOMY_MODES, ctx.mode)) throw new LokiError('invalid_argument', `unknown autonomy mode "${ctx.mode}"`);
    const mode = ctx.mode ?? this.modeFor(profile);
    const pctx: PathContext = {
      workspace: ctx.workspace ?? this.opts.workspace,
      ...(ctx.hostWorkspace ? { hostWorkspace: ctx.hostWorkspace } : {}),
      ...(ctx.cwd ? { cwd: ctx.cwd } : {}),
    };
    let verdict: Verdict;
    let normalized: string;
    let commands: CommandReport[] = [];
    switch (action.kind) {
      case 'shell': {
        const r = this.shell(action.command, profile, pctx, ctx.sessionWritten);
        verdict = r.verdict;
        normalized = r.normalized;
        commands = r.commands;
        break;
      }
      case 'read':
      case 'write':
      case 'delete': {
        const v = this.opts.paths.checkFileAction(action.kind as PathOp, action.path, pctx);
        verdict = v;
        if (v.decision === 'allow' && action.kind !== 'read' && profile.writes === 'ask') {
          verdict = { decision: 'ask', rule: `profile:${profile.name}:writes`, reason: `profile ${profile.name} asks before every ${action.kind}` };
        }
        normalized = `${action.kind} ${v.resolved}`;
        break;
      }
      case 'commit':
        verdict = profile.commit === 'ask' ? { decision: 'ask', rule: `profile:${profile.name}:commit`, reason: `profile ${profile.name} asks before every commit` } : { decision: 'allow', rule: `profile:${profile.name}:commit`, reason: 'commits are allowed' };
        normalized = `commit ${JSON.stringify(action.message.slice(0, 200))}`;
        break;
      case 'phase':
        verdict = mode === 'perpetual' ? { decision: 'allow', rule: 'mode:perpetual', reason: 'perpetual mode does not stop at phase boundaries' } : { decision: 'ask', rule: `mode:${mode}`, reason: `${mode} mode asks for approval at the phase boundary "${action.name}"` };
        normalized = `phase ${action.name}`;
        break;
    }
    if (verdict.decision === 'allow' && mode === 'supervised') {
      verdict = { decision: 'ask', rule: 'mode:supervised', reason: 'supervised mode asks for approval of every action' };
    }
    return { ...verdict, normalized, actionHash: actionHash(ctx.sessionId, action), profile: profile.name, mode, commands };
  }

  private shell(command: string, profile: Profile, pctx: PathContext, sessionWritten?: ReadonlySet<string>) {
    const analysis = analyseShell(command, sessionWritten ? { sessionWritten } : {});
    const verdicts: Verdict[] = analysis.findings.map((f) => ({ decision: f.severity === 'deny' ? 'deny' : profile.failClosed, rule: f.id, reason: f.reason }));
    const commands: CommandReport[] = [];
    const cwd: CwdState = { cwd: pctx.cwd ?? pctx.workspace, moved: false };
    for (const c of analysis.commands) {
      const shown = normalizeArgv(c.argv);
      followCd(shown, cwd);
      const n = inCwd(shown, cwd);
      const here: PathContext = cwd.cwd === undefined ? pctx : { ...pctx, cwd: cwd.cwd === '~' ? (pctx.home ?? '/root') : cwd.cwd.replace(/^~(?=\/)/, pctx.home ?? '/root') };
      let v = this.rules(n, profile);
      for (const pv of this.commandPaths(c, n, here, profile)) v = worst(v, pv);
      if (cwd.moved && cwd.cwd === undefined && c.redirects.length) v = worst(v, { decision: profile.failClosed, rule: 'unresolved:dynamic-cwd', reason: 'redirection after a cd to a directory only known at run time' });
      const text = [...(c.assigns ?? []), shown.text, ...c.redirects.map((r) => `${r.op}${r.target.text}`)].join(' ');
      commands.push({ normalized: text, via: c.via, ...v });
      verdicts.push(analysis.commands.length > 1 ? { ...v, reason: `${text}: ${v.reason}` } : v);
    }
    const verdict = verdicts.length ? verdicts.reduce(worst) : { decision: 'allow' as const, rule: 'shell:empty', reason: 'nothing to run' };
    // The commands in order, joined as the line joins them where that is known: ` | ` before one that
    // reads the previous one's output (what an approver must see: `curl … | sh` is not `curl … ; sh`),
    // ` && ` / ` || ` before one that runs only after a success / a failure, ` ; ` between the others.
    const joiner = (c: (typeof analysis.commands)[number]) => (c.pipedIn ? ' | ' : c.after ? ` ${c.after} ` : ' ; ');
    const normalized = commands.map((c, i) => (i === 0 ? '' : joiner(analysis.commands[i]!)) + c.normalized).join('');
    return { verdict, normalized, commands };
  }

  private rules(n: NormalizedCommand, profile: Profile): Verdict {
    // The analysis already flagged a run-time program name; every rule would "maybe" match it.
    if (n.programDynamic) return { decision: profile.failClosed, rule: 'unresolved:dynamic-command', reason: `the program name ${n.program} is only known at run time` };
    let best: Verdict | undefined;
    for (const rule of profile.rules) {
      const m = matchRule(rule, n);
      if (m === 'no') continue;
      const v: Verdict =
        m === 'yes'
          ? { decision: rule.effect, rule: rule.id, reason: rule.reason }
          : { decision: profile.failClosed === 'deny' && rule.effect === 'deny' ? 'deny' : 'ask', rule: rule.id, reason: `${n.text} could match "${rule.pattern}" depending on run-time values (${rule.reason})` };
      best = best ? worst(best, v) : v;
      if (best.decision === 'deny' && m === 'yes') break;
    }
    return best ?? { decision: profile.default, rule: `profile:${profile.name}:default`, reason: `no rule matched; profile ${profile.name} defaults to ${profile.default}` };
  }

  /** Redirections and the operands of file-writing programs go through the path policy. */
  private commandPaths(c: SimpleCommand, n: NormalizedCommand, pctx: PathContext, profile: Profile): Verdict[] {
    const out: Verdict[] = [];
    const targets = c.redirects.filter((r) => WRITE_REDIRECTS.has(r.op) && !/^\d+$|^-$/.test(r.target.text)).map((r) => r.target);
    for (const t of [...targets, ...writeTargets(n)]) {
      if (t.dynamic !== 'none') {
        out.push({ decision: profile.failClosed, rule: 'unresolved:dynamic-path', reason: `${n.program} writes to ${t.text}, a path only known at run time` });
        continue;
      }
      const v = 'into' in t && t.into ? this.opts.paths.checkInto(t.text, pctx) : this.opts.paths.check('write', t.text, pctx);
      if (v.decision === 'deny') out.push(v);
    }
    return out;
  }
}

function validateAction(action: Action): void {
  switch (action.kind) {
    case 'shell':
      if (typeof action.command !== 'string' || action.command.trim() === '') throw new LokiError('invalid_argument', 'action.shell.command must be a non-empty string');
      return;
    case 'read':
    case 'write':
    case 'delete':
      if (typeof action.path !== 'string' || action.path === '' || action.path.includes('\0')) throw new LokiError('invalid_argument', `action.${action.kind}.path must be a non-empty path without NUL bytes`);
      return;
    case 'commit':
      if (typeof action.message !== 'string') throw new LokiError('invalid_argument', 'action.commit.message must be a string');
      return;
    case 'phase':
      if (typeof action.name !== 'string' || action.name.trim() === '') throw new LokiError('invalid_argument', 'action.phase.name must be a non-empty string');
      return;
    default:
      throw new LokiError('invalid_argument', `unknown action kind "${(action as { kind?: unknown }).kind}"`);
  }
}
