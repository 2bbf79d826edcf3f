// The `policy` config section (file + LOKI_* env) and the one function that
// turns it into an engine. Loading checks every rule's match/not_match
// examples; a policy whose examples fail does not load, and the error lists
// every failure.
import { posix } from 'node:path';
import { z } from 'zod';
import { AUTONOMY_MODES, LokiError, type DeepReadonly, type EnvBinding } from '../../../common/src/index.js';
import { BUILTIN_DENY, BUILTIN_PROFILES, DEFAULT_PROTECTED_PATHS, type ProfileSpec } from './defaults.js';
import { PolicyEngine, type AutonomyMode, type Profile } from './engine.js';
import { PathPolicy } from './paths.js';
import { SANDBOX_WORKSPACE } from '../sandbox/types.js';
import { blockedCommandRule, compileRule, matchRule, type Rule, type RuleSpec } from './rules.js';
import { analyseShell } from './shell/analyse.js';
import { normalizeArgv } from './shell/normalize.js';

const ruleSchema = z
  .object({
    effect: z.enum(['allow', 'ask', 'deny']),
    pattern: z.string().min(1),
    id: z.string().min(1).optional(),
    reason: z.string().optional(),
    match: z.array(z.string()).optional(),
    not_match: z.array(z.string()).optional(),
    /** Two-person rule: how many distinct humans must approve what this rule asks (1–5, default 1). */
    approvers: z.number().int().min(1).max(5).optional(),
    /** The session's starter may not be one of the approvers of what this rule asks. */
    require_distinct_approver: z.boolean().optional(),
  })
  .strict()
  // The requirement is looked up by the deciding rule's id, so a rule that sets one must name itself.
  .refine((r) => (r.approvers === undefined && r.require_distinct_approver === undefined) || r.id !== undefined, {
    message: 'a rule with approvers or require_distinct_approver needs an id',
  });

export interface ApprovalRequirement {
  approvers: number;
  distinctFromStarter: boolean;
}

/** Rule id → its two-person requirement, from the global rules and every profile's rules. */
export function approvalRequirements(cfg: DeepReadonly<PolicyConfig>): Map<string, ApprovalRequirement> {
  const out = new Map<string, ApprovalRequirement>();
  const all = [...cfg.rules, ...Object.values(cfg.profiles).flatMap((p) => p.rules)];
  for (const r of all) {
    if (!r.id || (r.approvers === undefined && r.require_distinct_approver === undefined)) continue;
    out.set(r.id, { approvers: r.approvers ?? 1, distinctFromStarter: r.require_distinct_approver ?? false });
  }
  return out;
}

const modeSchema = z.enum(AUTONOMY_MODES);

const profileSchema = z
  .object({
    description: z.string().default(''),
    /** A profile may start from a built-in one and add rules. */
    extends: z.string().optional(),
    default: z.enum(['allow', 'ask', 'deny']).optional(),
    fail_closed: z.enum(['ask', 'deny']).optional(),
    writes: z.enum(['allow', 'ask']).optional(),
    commit: z.enum(['allow', 'ask']).optional(),
    mode: modeSchema.optional(),
    rules: z.array(ruleSchema).default([]),
  })
  .strict();

export const policyConfigSchema = z
  .object({
    default_profile: z.string().min(1).default('default'),
    /** LOKI_STAGED_AUTONOMY: when true and no mode is set, the mode is `checkpoint`. */
    staged_autonomy: z.boolean().default(false),
    autonomy_mode: modeSchema.optional(),
    /** LOKI_BLOCKED_COMMANDS entries (Loki Mode syntax: command prefixes). */
    blocked_commands: z.array(z.string().min(1)).default([]),
    /** LOKI_ALLOWED_PATHS: writable roots in the sandbox; empty = the workspace. */
    allowed_paths: z.array(z.string().startsWith('/', 'must be an absolute path')).default([]),
    scratch_paths: z.array(z.string().startsWith('/', 'must be an absolute path')).default(['/tmp']),
    protected_paths: z.array(z.string().min(1)).default([...DEFAULT_PROTECTED_PATHS]),
    path_aliases: z.array(z.object({ from: z.string().startsWith('/'), to: z.string().startsWith('/') }).strict()).default([]),
    /**
     * The workspace's path in the sandbox. Every sandbox mounts its session's workspace at
     * SANDBOX_WORKSPACE and every decision is made against that, so this may only repeat it:
     * another value used to change the answers of Decide and Explain (`loki policy check`)
     * while the agent channel kept deciding against /workspace.
     */
    workspace: z
      .string()
      .startsWith('/', 'must be an absolute path')
      .default(SANDBOX_WORKSPACE)
      .superRefine((v, ctx) => {
        if (posix.normalize(v).replace(/(.)\/+$/, '$1') === SANDBOX_WORKSPACE) return;
        ctx.addIssue({
          code: 'custom',
          message:
            `every sandbox has its session's workspace at ${SANDBOX_WORKSPACE} and every decision is made against it, so this can only be "${SANDBOX_WORKSPACE}" (got ${JSON.stringify(v)}); ` +
            'to let writes reach other paths use policy.allowed_paths, to name the workspace by another path use policy.path_aliases',
        });
      }),
    /** Rules added to every profile (after the built-in deny set). */
    rules: z.array(ruleSchema).default([]),
    profiles: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'profile names are lowercase [a-z0-9._-]'), profileSchema).default({}),
    approvals: z
      .object({
        timeout_seconds: z.number().int().positive().max(7 * 24 * 3600).default(900),
        /** What an unanswered approval becomes. Deny unless an operator says otherwise. */
        on_timeout: z.enum(['deny', 'allow']).default('deny'),
        /** Require the approver to differ from the session's owner. */
        four_eyes: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type PolicyConfig = z.infer<typeof policyConfigSchema>;

export const policyEnvBindings: EnvBinding[] = [
  { env: 'LOKI_BLOCKED_COMMANDS', path: 'policy.blocked_commands', type: 'list' },
  { env: 'LOKI_ALLOWED_PATHS', path: 'policy.allowed_paths', type: 'list' },
  { env: 'LOKI_STAGED_AUTONOMY', path: 'policy.staged_autonomy', type: 'bool' },
  { env: 'LOKI_AUTONOMY_MODE', path: 'policy.autonomy_mode', type: 'string' },
  { env: 'LOKI_POLICY_PROFILE', path: 'policy.default_profile', type: 'string' },
  { env: 'LOKI_APPROVAL_TIMEOUT', path: 'policy.approvals.timeout_seconds', type: 'int' },
  { env: 'LOKI_APPROVAL_FOUR_EYES', path: 'policy.approvals.four_eyes', type: 'bool' },
];

/** Structural view accepted by buildPolicyEngine (the frozen, deep-readonly config fits). */
export type PolicyConfigInput = z.input<typeof policyConfigSchema> | DeepReadonly<PolicyConfig>;

export function effectiveMode(cfg: { readonly autonomy_mode?: AutonomyMode | undefined; readonly staged_autonomy: boolean }): AutonomyMode {
  return cfg.autonomy_mode ?? (cfg.staged_autonomy ? 'checkpoint' : 'perpetual');
}

/** Checks a rule's examples: each `match` command must contain a command the rule matches; no `not_match` may. */
function checkExamples(rule: Rule, where: string, problems: string[]): void {
  const hits = (cmd: string) => analyseShell(cmd).commands.some((c) => matchRule(rule, normalizeArgv(c.argv)) === 'yes');
  for (const ex of rule.match) if (!hits(ex)) problems.push(`${where} (${rule.id}): example ${JSON.stringify(ex)} should match "${rule.pattern}" but does not`);
  for (const ex of rule.notMatch) if (hits(ex)) problems.push(`${where} (${rule.id}): example ${JSON.stringify(ex)} should not match "${rule.pattern}" but does`);
}

function compileAll(specs: readonly RuleSpec[], source: string, where: string, problems: string[]): Rule[] {
  const out: Rule[] = [];
  specs.forEach((s, i) => {
    try {
      const r = compileRule(s, source);
      checkExamples(r, `${where}[${i}]`, problems);
      out.push(r);
    } catch (err) {
      problems.push(`${where}[${i}]: ${(err as Error).message}`);
    }
  });
  return out;
}

/** Builds the engine from a validated `policy` section. Throws LokiError(invalid_config) listing every problem. */
export function buildPolicyEngine(input: PolicyConfigInput): { engine: PolicyEngine; config: PolicyConfig } {
  const parsed = policyConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new LokiError('invalid_config', `invalid policy:\n  ${parsed.error.issues.map((i) => `policy.${i.path.map(String).join('.')}: ${i.message}`).join('\n  ')}`);
  }
  const cfg = parsed.data;
  const problems: string[] = [];
  const builtin = compileAll(BUILTIN_DENY, 'builtin', 'builtin', problems);
  const env = cfg.blocked_commands.flatMap((entry, i) => {
    try {
      return [blockedCommandRule(entry, i)];
    } catch (err) {
      problems.push(`policy.blocked_commands[${i}]: ${(err as Error).message}`);
      return [];
    }
  });
  const shared = compileAll(cfg.rules, 'config', 'policy.rules', problems);
  const specs: Record<string, ProfileSpec & { extends?: string | undefined }> = { ...BUILTIN_PROFILES };
  for (const [name, p] of Object.entries(cfg.profiles)) {
    const base = p.extends ? BUILTIN_PROFILES[p.extends] : BUILTIN_PROFILES[name];
    if (p.extends && !base) problems.push(`policy.profiles.${name}.extends: unknown built-in profile "${p.extends}"`);
    const mode = p.mode ?? base?.mode;
    specs[name] = {
      description: p.description || base?.description || '',
      default: p.default ?? base?.default ?? 'ask',
      fail_closed: p.fail_closed ?? base?.fail_closed ?? 'ask',
      writes: p.writes ?? base?.writes ?? 'allow',
      commit: p.commit ?? base?.commit ?? 'allow',
      ...(mode ? { mode } : {}),
      rules: [...(base?.rules ?? []), ...p.rules],
    };
  }
  const profiles = new Map<string, Profile>();
  for (const [name, spec] of Object.entries(specs)) {
    const own = compileAll(spec.rules, `profile:${name}`, `policy.profiles.${name}.rules`, problems);
    profiles.set(name, {
      name,
      description: spec.description,
      default: spec.default,
      failClosed: spec.fail_closed,
      writes: spec.writes,
      commit: spec.commit,
      ...(spec.mode ? { mode: spec.mode } : {}),
      rules: [...builtin, ...env, ...shared, ...own],
    });
  }
  if (!profiles.has(cfg.default_profile)) problems.push(`policy.default_profile: unknown profile "${cfg.default_profile}" (known: ${[...profiles.keys()].join(', ')})`);
  if (problems.length) throw new LokiError('invalid_config', `invalid policy:\n  ${problems.join('\n  ')}`);
  const paths = new PathPolicy({ allowedPaths: cfg.allowed_paths, scratchPaths: cfg.scratch_paths, protectedPaths: cfg.protected_paths, aliases: cfg.path_aliases });
  return { engine: new PolicyEngine({ profiles, defaultProfile: cfg.default_profile, mode: effectiveMode(cfg), paths, workspace: SANDBOX_WORKSPACE }), config: cfg };
}
