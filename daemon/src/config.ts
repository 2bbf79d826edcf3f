// lokid's one config schema: file (YAML/JSON, --config or $LOKI_HOME/config.yaml)
// plus LOKI_* env vars, validated at startup (every problem listed), then frozen.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  defaultLokiHome,
  loadConfig,
  parseBytes,
  readConfigFile,
  type DeepReadonly,
  type EnvBinding,
} from '../../common/src/index.js';
import { tokensConfigSchema, tokensEnvBindings } from './tokens/config.js';
import { authConfigSchema, authEnvBindings } from './auth/config.js';
import { auditConfigSchema, auditEnvBindings } from './audit/config.js';
import { gitConfigSchema, gitEnvBindings } from './git/config.js';
import { policyConfigSchema, policyEnvBindings } from './policy/config.js';
import { sessionsConfigSchema, sessionsEnvBindings } from './sessions/config.js';

/** Repository/installation root (two levels above daemon/src or dist/daemon/src). */
export function installRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'deploy', 'seccomp'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

const bytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseBytes(v);
  if (n === undefined || n <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a size such as 512m or 2g, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const modeString = z.string().regex(/^0?[0-7]{3}$/, 'expected an octal file mode such as 0600 or 0660');
const groupName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'expected a group name');
/** The gid of a group in /etc/group (what lokid chowns its sockets to), or undefined. */
export function findGroupId(name: string, groupFile = '/etc/group'): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.split(':')[0] === name);
  return line ? Number(line.split(':')[2]) : undefined;
}

const userSpec = z.string().regex(/^(auto|\d{1,10}:\d{1,10})$/, 'expected "auto" or "uid:gid"');

export const sandboxConfigSchema = z
  .object({
    image: z.string().min(1).default('loki-sandbox:latest'),
    // runc: Docker's default. runsc: gVisor, a user-space kernel between the agent and the
    // host kernel (register it with scripts/register-runsc.sh; see docs/DEPLOYMENT.md).
    runtime: z.enum(['runc', 'runsc']).default('runc'),
    seccomp_profile: z.string().min(1).refine(isAbsolute, 'must be an absolute path').optional(),
    user: userSpec.default('auto'),
    memory: bytes.default(2 * 1024 ** 3),
    cpus: z.number().positive().max(256).default(2),
    pids: z.number().int().min(16).max(1_000_000).default(512),
    tmpfs_size: bytes.default(256 * 1024 ** 2),
    stop_timeout_seconds: z.number().int().min(0).max(3600).default(10),
    max_sandboxes: z.number().int().min(1).max(10_000).default(50),
    /** How long GetStatus serves one Docker snapshot (0 = ask Docker on every call). */
    status_cache_ms: z.number().int().min(0).max(60_000).default(1000),
    debootstrap_mirror: z.string().url().optional(),
    /**
     * Copy the agent-runner bundle into $LOKI_HOME/agent-runner at start and bind it into sandboxes
     * from there. For a lokid in a container (the lokid image sets it): the engine resolves bind
     * sources on the host, which has LOKI_HOME at the same path but not the image's /app.
     */
    runner_in_home: z.boolean().default(false),
    allow: z
      .object({
        network: z.boolean().default(false),
        writable_rootfs: z.boolean().default(false),
        root_user: z.boolean().default(false),
      })
      .strict()
      .default({ network: false, writable_rootfs: false, root_user: false }),
    /**
     * Warm pool: this many hardened sandboxes started ahead, each handed to one
     * session and then destroyed (docs/sandbox.md). 0 = off. Ready slots count
     * against max_sandboxes, so the size must leave room for work.
     */
    pool: z
      .object({ size: z.number().int().min(0, 'must be 0 (off) or more').max(64, 'must be at most 64') })
      .strict()
      .default({ size: 0 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.pool.size > 0 && s.pool.size >= s.max_sandboxes) {
      ctx.addIssue({ code: 'custom', path: ['pool', 'size'], message: `must be below sandbox.max_sandboxes (${s.max_sandboxes}): ready slots count against that limit` });
    }
  });

export const daemonConfigSchema = z
  .object({
    home: z.string().min(1).refine(isAbsolute, 'must be an absolute path'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    sockets: z
      .object({
        dir: z.string().min(1).optional(),
        admin_mode: modeString.default('0600'),
        admin_group: groupName.optional(),
        gateway_mode: modeString.default('0600'),
        gateway_group: groupName.optional(),
      })
      .strict()
      .superRefine((s, ctx) => {
        // Reported here so `lokid --check-config` finds them, not only a failed start.
        for (const door of ['admin', 'gateway'] as const) {
          const mode = s[`${door}_mode`];
          // Anyone who can connect to admin.sock is the local admin (Docker, every session); to
          // gateway.sock, a gateway. "Other" bits would hand that to every account on the host.
          if (parseInt(mode, 8) & 0o007) {
            ctx.addIssue({ code: 'custom', path: [`${door}_mode`], message: `${mode} lets every local user open ${door}.sock; use 0600, or 0660 with sockets.${door}_group` });
          }
          const group = s[`${door}_group`];
          if (group !== undefined && findGroupId(group) === undefined) {
            ctx.addIssue({ code: 'custom', path: [`${door}_group`], message: `group "${group}" does not exist (create it: groupadd --system ${group})` });
          }
        }
      })
      .default({ admin_mode: '0600', gateway_mode: '0600' }),
    tcp: z
      .object({
        listen: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port').optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        client_ca: z.string().optional(),
        gateway_names: z.array(z.string().min(1)).default(['loki-gateway']),
      })
      .strict()
      .superRefine((t, ctx) => {
        if (!t.listen) return;
        const port = Number(t.listen.split(':').pop());
        if (port > 65535) ctx.addIssue({ code: 'custom', path: ['listen'], message: `port must be 0-65535 (0 = any free port), got ${port}` });
        for (const k of ['cert', 'key', 'client_ca'] as const) {
          if (!t[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'required when tcp.listen is set (the TCP listener is mutual TLS only)' });
          else if (!existsSync(t[k])) ctx.addIssue({ code: 'custom', path: [k], message: `file not found: ${t[k]}` });
        }
      })
      .default({ gateway_names: ['loki-gateway'] }),
    docker: z
      .object({ socket: z.string().min(1).default('/var/run/docker.sock') })
      .strict()
      .default({ socket: '/var/run/docker.sock' }),
    sandbox: sandboxConfigSchema.default(sandboxConfigSchema.parse({})),
    tokens: tokensConfigSchema.default(tokensConfigSchema.parse({})),
    auth: authConfigSchema.prefault({}),
    audit: auditConfigSchema.default(auditConfigSchema.parse({})),
    git: gitConfigSchema.prefault({}),
    policy: policyConfigSchema.prefault({}),
    sessions: sessionsConfigSchema.prefault({}),
  })
  .strict();

export type DaemonConfig = DeepReadonly<z.infer<typeof daemonConfigSchema>>;
export type SandboxConfig = DaemonConfig['sandbox'];

export const daemonEnvBindings: readonly EnvBinding[] = [
  { env: 'LOKI_HOME', path: 'home', type: 'string' },
  { env: 'LOKI_LOG_LEVEL', path: 'log_level', type: 'string' },
  { env: 'LOKI_RUN_DIR', path: 'sockets.dir', type: 'string' },
  { env: 'LOKI_DAEMON_TCP_LISTEN', path: 'tcp.listen', type: 'string' },
  { env: 'LOKI_DAEMON_TLS_CERT', path: 'tcp.cert', type: 'string' },
  { env: 'LOKI_DAEMON_TLS_KEY', path: 'tcp.key', type: 'string' },
  { env: 'LOKI_DAEMON_CLIENT_CA', path: 'tcp.client_ca', type: 'string' },
  { env: 'LOKI_DOCKER_SOCKET', path: 'docker.socket', type: 'string' },
  { env: 'LOKI_SANDBOX_IMAGE', path: 'sandbox.image', type: 'string' },
  { env: 'LOKI_SANDBOX_RUNTIME', path: 'sandbox.runtime', type: 'string' },
  { env: 'LOKI_SECCOMP_PROFILE', path: 'sandbox.seccomp_profile', type: 'string' },
  { env: 'LOKI_SANDBOX_USER', path: 'sandbox.user', type: 'string' },
  { env: 'LOKI_SANDBOX_MEMORY', path: 'sandbox.memory', type: 'string' },
  { env: 'LOKI_SANDBOX_CPUS', path: 'sandbox.cpus', type: 'number' },
  { env: 'LOKI_SANDBOX_PIDS', path: 'sandbox.pids', type: 'int' },
  { env: 'LOKI_SANDBOX_STOP_TIMEOUT', path: 'sandbox.stop_timeout_seconds', type: 'int' },
  { env: 'LOKI_MAX_SANDBOXES', path: 'sandbox.max_sandboxes', type: 'int' },
  { env: 'LOKI_SANDBOX_POOL_SIZE', path: 'sandbox.pool.size', type: 'int' },
  { env: 'LOKI_STATUS_CACHE_MS', path: 'sandbox.status_cache_ms', type: 'int' },
  { env: 'LOKI_DEBOOTSTRAP_MIRROR', path: 'sandbox.debootstrap_mirror', type: 'string' },
  { env: 'LOKI_SANDBOX_RUNNER_IN_HOME', path: 'sandbox.runner_in_home', type: 'bool' },
  ...tokensEnvBindings,
  ...authEnvBindings,
  ...auditEnvBindings,
  ...gitEnvBindings,
  ...policyEnvBindings,
  ...sessionsEnvBindings,
];

export interface LoadDaemonConfigOptions {
  env?: NodeJS.ProcessEnv;
  configFile?: string;
  /** Overrides applied after file + env (used by `loki up` and tests). */
  overrides?: Record<string, unknown>;
}

/** Config file: --config, else $LOKI_CONFIG, else $LOKI_HOME/config.yaml when it exists. */
export function loadDaemonConfig(opts: LoadDaemonConfigOptions = {}): DaemonConfig {
  const env = opts.env ?? process.env;
  const home = defaultLokiHome(env);
  const explicit = opts.configFile ?? env.LOKI_CONFIG;
  const implicit = join(home, 'config.yaml');
  const file = explicit ? readConfigFile(explicit) : existsSync(implicit) ? readConfigFile(implicit) : {};
  const raw = { home, ...file, ...(opts.overrides ?? {}) };
  return loadConfig({
    schema: daemonConfigSchema,
    file: raw,
    env,
    bindings: daemonEnvBindings,
  });
}

export function seccompProfilePath(cfg: SandboxConfig): string {
  return cfg.seccomp_profile ?? join(installRoot(), 'deploy', 'seccomp', 'loki-sandbox.json');
}
