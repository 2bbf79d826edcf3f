// The daemon config section `git`: branch protection, PR creation and the
// agent audit trail export (daemon/src/config.ts mounts it under the key `git`).
import { z } from 'zod';
import type { DeepReadonly, EnvBinding } from '../../../common/src/index.js';
import { ALWAYS_PROTECTED, checkPatternSyntax } from './refs.js';

const pattern = z.string().superRefine((p, ctx) => {
  const problem = checkPatternSyntax(p);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const DEFAULT_PUSH_PROTECTED_PATHS = [
  '.github/workflows/**',
  '.github/actions/**',
  '.gitlab-ci.yml',
  '.gitlab/**',
  '.circleci/**',
  '.buildkite/**',
  'Jenkinsfile',
  'azure-pipelines.yml',
  '.drone.yml',
  '.loki/**',
] as const;

export const gitConfigSchema = z
  .object({
    /** Refuse to bring back or push any ref whose name is protected. */
    branch_protection: z.boolean().default(true),
    /** Globs (`release/*`); `main` and `master` are always protected and may be listed again. */
    protected_branches: z.array(pattern).default([...ALWAYS_PROTECTED]),
    /** Allow a session branch that was already brought back to be replaced by a rewritten history. */
    allow_non_fast_forward: z.boolean().default(false),
    /** Open a pull request with `gh` at the end of a session. */
    auto_pr: z.boolean().default(false),
    /** Copy the session's agent audit trail to `<project>/.loki/logs/agent-audit.jsonl` (read-only) at the end. */
    export_agent_audit: z.boolean().default(false),
    /** Owner of workspace files; default the sandbox uid (64000:64000) when the daemon runs as root, unchanged otherwise. */
    workspace_uid: z.number().int().min(0).max(4_294_967_294).optional(),
    workspace_gid: z.number().int().min(0).max(4_294_967_294).optional(),
    /**
     * Paths whose change would run with the repository's CI secrets once pushed
     * (workflows, CI definitions). Loki brings such a session branch back for a
     * human to review but never pushes it or opens its PR itself.
     */
    push_protected_paths: z.array(z.string().min(1).max(256)).default([...DEFAULT_PUSH_PROTECTED_PATHS]),
    /** Lets Loki push / open PRs for session branches that touch push_protected_paths. */
    allow_protected_path_push: z.boolean().default(false),
    /** The GitHub CLI, looked up on the daemon's PATH unless absolute. */
    gh_path: z.string().min(1).default('gh'),
    /**
     * Directories `loki projects discover` searches by default. A caller without
     * `*` may register (and discover) repositories only inside these.
     */
    registry_roots: z.array(z.string().regex(/^\//, 'must be an absolute path').max(4096)).max(64).default([]),
    /** Project names (or `*`) every reader sees; otherwise a subject sees only the projects it registered (admins see all). */
    shared_projects: z.array(z.string().min(1).max(63)).max(1024).default([]),
  })
  .strict();

export type GitConfig = DeepReadonly<z.infer<typeof gitConfigSchema>>;

export const gitEnvBindings: EnvBinding[] = [
  { env: 'LOKI_BRANCH_PROTECTION', path: 'git.branch_protection', type: 'bool' },
  { env: 'LOKI_AUTO_PR', path: 'git.auto_pr', type: 'bool' },
  { env: 'LOKI_PROTECTED_BRANCHES', path: 'git.protected_branches', type: 'list' },
  { env: 'LOKI_REGISTRY_ROOTS', path: 'git.registry_roots', type: 'list' },
];

/** Defaults, for tests and callers that have no config file. */
export function defaultGitConfig(overrides: Partial<z.input<typeof gitConfigSchema>> = {}): GitConfig {
  return gitConfigSchema.parse(overrides);
}
