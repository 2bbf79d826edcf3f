// Start-request validation: every client mistake becomes a specific
// invalid_argument before anything is created.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LokiError, checkText, counted } from '../../../common/src/index.js';
import { PlanError, parseScriptPlan } from '../../../common/src/script-plan.js';
import { projectVisible, type Project, type ProjectRegistry } from '../git/projects.js';
import type { Caller } from '../authz/caller.js';
import type { PolicyEngine } from '../policy/engine.js';
import { AUTONOMY_MODES, isOneOf } from '../../../common/src/vocab.js';
import { PROVIDERS, type Provider, type StartSessionInput } from './types.js';

const MAX_PLAN_STEPS = 10_000;

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/** The check `SessionRepo.insert` runs inside its transaction with the number of active sessions. */
export function concurrencyLimit(max: number): (active: number) => void {
  return (active) => {
    if (active >= max) throw new LokiError('session_limit_reached', `the daemon already runs ${counted(active, 'session')} (sessions.max_concurrent = ${max})`);
  };
}

export function checkProvider(p: string): Provider {
  if (!isOneOf(PROVIDERS, p)) {
    throw new LokiError('invalid_argument', `unknown provider "${p.slice(0, 32)}" (known: ${PROVIDERS.join(', ')})`);
  }
  return p as Provider;
}

export function checkAutonomy(mode: string): string {
  if (mode && !isOneOf(AUTONOMY_MODES, mode)) throw new LokiError('invalid_argument', `unknown autonomy mode "${mode.slice(0, 32)}" (known: ${AUTONOMY_MODES.join(', ')})`);
  return mode;
}

export function checkProfile(engine: PolicyEngine, name: string): string {
  // Throws invalid_argument naming the known profiles.
  return engine.profile(name || undefined).name;
}

/**
 * Reads the PRD. A relative path is resolved against the project. A remote
 * (gateway) caller may only name files inside the project: the daemon reads as
 * a privileged user and must not become a file-reading oracle. The local
 * administrator may name any file the daemon can read.
 */
export function readPrd(caller: Caller, prd: string, projectPath: string, maxBytes: number): { text: string; source: string } {
  const abs = isAbsolute(prd) ? prd : resolve(projectPath, prd);
  const remote = caller.role !== 'local-admin';
  // Remote callers get one answer for "missing" and "outside the project", checked
  // lexically before touching the path, so the daemon is no oracle for host files.
  const remoteRefusal = () => new LokiError('invalid_argument', `PRD file ${prd} is missing or outside the project (remote callers may only name readable files inside it)`);
  if (remote && !inside(resolve(projectPath), resolve(abs))) throw remoteRefusal();
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    if (remote) throw remoteRefusal();
    throw new LokiError('invalid_argument', `PRD file ${prd} does not exist or is not readable by the daemon`);
  }
  if (remote && !inside(realpathSync(projectPath), real)) throw remoteRefusal();
  const st = statSync(real);
  if (!st.isFile()) throw new LokiError('invalid_argument', `PRD ${prd} is not a regular file`);
  if (st.size > maxBytes) throw new LokiError('payload_too_large', `PRD ${prd} is larger than ${maxBytes} bytes`);
  const text = readFileSync(real, 'utf8');
  if (!text.trim()) throw new LokiError('invalid_argument', `PRD file ${prd} is empty`);
  return { text, source: real };
}

/**
 * Script plans arrive as JSON or YAML text. Every step is checked here with the runner's
 * own rules (common/src/script-plan.ts), so a plan that cannot run is refused at start,
 * before a workspace or sandbox exists; the runner checks it again.
 */
export function normalizePlan(provider: Provider, plan: string): string {
  if (provider !== 'script') {
    if (plan) throw new LokiError('invalid_argument', `a plan is only used by the script provider (provider is ${provider})`);
    return '';
  }
  if (!plan.trim()) throw new LokiError('invalid_argument', 'the script provider needs a plan (--plan FILE: a JSON or YAML list of steps)');
  let steps: unknown[];
  try {
    steps = parseScriptPlan(plan);
  } catch (err) {
    if (err instanceof PlanError) throw new LokiError('invalid_argument', `the plan cannot run: ${err.message}`);
    throw err;
  }
  if (steps.length > MAX_PLAN_STEPS) throw new LokiError('invalid_argument', `the plan has more than ${MAX_PLAN_STEPS} steps`);
  return JSON.stringify(steps);
}

export function checkStartInput(i: StartSessionInput, maxPromptBytes: number): void {
  checkStartText(i);
  if (!i.prd && !i.prompt) throw new LokiError('invalid_argument', 'a PRD path (prd) or an inline prompt is required');
  if (i.prd && i.prompt) throw new LokiError('invalid_argument', 'give either a PRD path or an inline prompt, not both');
  if (Buffer.byteLength(i.prompt) > maxPromptBytes) throw new LokiError('payload_too_large', `the prompt is larger than ${maxPromptBytes} bytes`);
  if (Buffer.byteLength(i.plan) > maxPromptBytes) throw new LokiError('payload_too_large', `the plan is larger than ${maxPromptBytes} bytes`);
  if (!Number.isInteger(i.maxIterations) || i.maxIterations < 0 || i.maxIterations > 100_000) {
    throw new LokiError('invalid_argument', 'max_iterations must be an integer between 0 and 100000 (0 = the default)');
  }
  if (i.baseUrl) {
    let u: URL;
    try {
      u = new URL(i.baseUrl);
    } catch {
      throw new LokiError('invalid_argument', `base_url "${i.baseUrl.slice(0, 64)}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new LokiError('invalid_argument', 'base_url must be http(s)');
    if (u.username || u.password) throw new LokiError('invalid_argument', 'base_url must not carry credentials; keys are configured on the daemon (sessions.openai.upstreams)');
  }
  if (i.upstream && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(i.upstream)) throw new LokiError('invalid_argument', `upstream "${i.upstream.slice(0, 64)}" is not an upstream name`);
}

/**
 * The one-line fields of a start request, as the daemon keeps and shows them: no control,
 * bidi or invisible characters and a sane length (common/src/text-input.ts). Checked before
 * anything else, so no later message quotes such a value back. The prompt and the plan are
 * multi-line by nature and bounded by size (checkStartInput).
 */
export function checkStartText(i: StartSessionInput): void {
  checkText('model', i.model, { max: 200 });
  checkText('project', i.project, { max: 128 });
  checkText('prd', i.prd, { max: 4096 });
  checkText('project_path', i.projectPath, { max: 4096 });
  // The URL parser drops tabs and line breaks silently; the value must not depend on that.
  checkText('base_url', i.baseUrl, { max: 2048 });
  checkText('profile', i.profile, { max: 63 });
  checkText('upstream', i.upstream ?? '', { max: 63 });
}

/** The project a start request means: named, the local caller's working tree (registered on first use), or the only one. */
/**
 * The project a session runs on, among those the caller may see (git.shared_projects and its own
 * registrations; everything for `*` and the local admin). Another subject's project answers exactly
 * like a missing one.
 */
export async function resolveProject(projects: ProjectRegistry, caller: Caller, input: StartSessionInput, shared: readonly string[]): Promise<Project> {
  const visible = (p: Project) => projectVisible(caller, p, shared);
  if (input.project) {
    const p = await projects.get(input.project);
    if (!visible(p)) throw new LokiError('project_not_found', `no project "${input.project}"; register it with \`loki projects register PATH\``);
    return p;
  }
  const all = (await projects.list()).filter(visible);
  if (input.projectPath) {
    // A host path only means something to a local caller; remote callers name a registered project.
    if (caller.role !== 'local-admin') throw new LokiError('invalid_argument', 'project_path is only accepted from the local CLI; name a registered project instead');
    const top = findRepoTop(input.projectPath);
    const known = all.find((p) => p.path === top);
    if (known) return known;
    return projects.register(top, { registeredBy: caller.subject });
  }
  if (all.length === 1) return all[0]!;
  throw new LokiError('invalid_argument', all.length ? `name the project (one of: ${all.map((p) => p.name).join(', ')})` : 'no project is registered that you may use; run `loki start` inside a git repository or `loki projects register PATH`');
}

/** The repository top level containing `path` (walks up to a `.git`). */
function findRepoTop(path: string): string {
  let dir: string;
  try {
    dir = realpathSync(path);
  } catch {
    throw new LokiError('invalid_argument', `project path ${path} does not exist`);
  }
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new LokiError('not_a_git_repo', `${path} is not inside a git repository`);
    dir = up;
  }
}
