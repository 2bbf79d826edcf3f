// The gateway's one config schema (file + LOKI_* env), validated at startup
// listing every problem, then frozen. SIGHUP builds a new one through the same
// function; an invalid new config is refused and the old one keeps running.
import { accessSync, constants, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import {
  LokiError,
  ROLES,
  defaultLokiHome,
  loadConfig,
  readConfigFile,
  runtimePaths,
  type DeepReadonly,
  type EnvBinding,
} from '../../common/src/index.js';
import type { DaemonTarget } from '../../client/src/grpc/index.js';

const roleNames = Object.keys(ROLES) as [keyof typeof ROLES, ...(keyof typeof ROLES)[]];

// A cert/key path must be readable now: finding out at the first TLS handshake
// (or at SIGHUP) is too late to tell the operator which file is wrong.
const readableFile = z.string().min(1).superRefine((p, ctx) => {
  try {
    accessSync(p, constants.R_OK);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${p} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
  }
});

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'expected host:port, e.g. 127.0.0.1:9464')
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'port must be between 1 and 65535');

// 0 = any free port (tests, socket activation behind a proxy).
const port = z.number().int().min(0, 'port must be between 0 and 65535').max(65535, 'port must be between 0 and 65535');

// Addresses or CIDR ranges, checked here so a typo does not silently trust nobody (or everybody).
const proxyAddress = z.string().refine((s) => {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length || !addr || !isIP(addr)) return ['loopback', 'linklocal', 'uniquelocal'].includes(s);
  if (bits === undefined) return true;
  const max = isIP(addr) === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}, 'expected an IP address, a CIDR range, or loopback/linklocal/uniquelocal');

function buildSchema(oidcSchema: z.ZodType) {
  return z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(57374),
      home: z.string().min(1).optional(),
      /** The URL users reach the gateway at (OIDC redirect and CSRF origin); default built from host/port. */
      public_url: z.url({ protocol: /^https?$/ }).optional(),
      /** Non-loopback bind without TLS is allowed only when a TLS-terminating proxy sits in front. */
      behind_tls_proxy: z.boolean().default(false),
      body_limit_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      trusted_proxies: z.array(proxyAddress).default([]),
      daemon: z
        .object({
          socket: z.string().min(1).optional(),
          /** host:port of the daemon's mutual-TLS TCP listener (a gateway on another machine); excludes `socket`. */
          address: hostPort.optional(),
          tls: z
            .object({
              ca: readableFile.optional(),
              cert: readableFile.optional(),
              key: readableFile.optional(),
              /** Name in the daemon's certificate when it differs from the address's host. */
              server_name: z.string().min(1).optional(),
            })
            .strict()
            .optional(),
          timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
          /** Gather the daemon calls of one event-loop turn into one BatchService call (docs/performance.md). */
          batch_calls: z.boolean().default(true),
        })
        .strict()
        .prefault({}),
      tls: z
        .object({
          cert: readableFile.optional(),
          key: readableFile.optional(),
          min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
          hsts_max_age_s: z.number().int().min(0).default(31_536_000),
        })
        .strict()
        .prefault({}),
      enterprise: z
        .object({
          auth: z
            .object({
              enabled: z.boolean().default(true),
              /** Role of every request when auth is disabled (loopback only). */
              anonymous_role: z.enum(roleNames).default('admin'),
              /** How long a verified API token is trusted without asking the daemon again. Revocation takes effect within this window. */
              token_cache_ms: z.number().int().min(0).max(5000, 'must be at most 5000 (revocation must take effect within 5 s)').default(5000),
              // Absent section = OIDC off; the OIDC schema sees `{}` and applies its own defaults.
              oidc: z.preprocess((v) => v ?? {}, oidcSchema),
            })
            .strict()
            .prefault({} as never),
        })
        .strict()
        .prefault({}),
      rate_limit: z
        .object({
          per_minute: z.number().int().min(1, 'must be at least 1').default(60),
          burst: z.number().int().min(1, 'must be at least 1').default(10),
          unauthenticated_per_minute: z.number().int().min(1, 'must be at least 1').default(60),
          concurrency: z.number().int().min(1, 'must be at least 1').default(8),
          /** Open SSE streams per subject; streams are outside `concurrency` (they live for minutes). */
          max_streams_per_subject: z.number().int().min(1, 'must be at least 1').default(16),
          queue_ms: z.number().int().min(0).max(30_000).default(1000),
          max_in_flight: z.number().int().min(1).default(512),
          max_entries: z.number().int().min(100).default(100_000),
          lockout_failures: z.number().int().min(1).default(5),
          lockout_window_s: z.number().int().min(1).default(60),
          lockout_duration_s: z.number().int().min(1).default(300),
        })
        .strict()
        .prefault({}),
      cors: z
        .object({
          origins: z.array(z.string().min(1)).default([]),
          credentials: z.boolean().default(false),
        })
        .strict()
        .prefault({}),
      metrics: z
        .object({
          /** host:port of a separate, unauthenticated metrics listener; unset = /metrics on the main listener with `read` scope. */
          listen: hostPort.optional(),
          /** The operator's acknowledgement that `listen` may be a non-loopback address (anyone who reaches it reads /metrics). */
          public: z.boolean().default(false),
        })
        .strict()
        .prefault({}),
      log: z
        .object({
          level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
          format: z.enum(['auto', 'json', 'pretty']).default('auto'),
        })
        .strict()
        .prefault({}),
      audit: z
        .object({
          buffer_size: z.number().int().min(1).max(1_000_000).default(10_000),
        })
        .strict()
        .prefault({}),
    })
    .strict();
}

/** Default OIDC section when the OIDC module is not mounted: accepted as-is and ignored. */
const looseOidc = z.record(z.string(), z.unknown()).default({});

export function gatewayConfigSchema(oidcSchema: z.ZodType = looseOidc) {
  return buildSchema(oidcSchema);
}

export type GatewayConfigInput = z.input<ReturnType<typeof buildSchema>>;
export type GatewayConfig = DeepReadonly<z.output<ReturnType<typeof buildSchema>>>;

export const gatewayEnvBindings: readonly EnvBinding[] = [
  { env: 'LOKI_API_HOST', path: 'host', type: 'string' },
  { env: 'LOKI_API_PORT', path: 'port', type: 'int' },
  { env: 'LOKI_HOME', path: 'home', type: 'string' },
  { env: 'LOKI_PUBLIC_URL', path: 'public_url', type: 'string' },
  { env: 'LOKI_BEHIND_TLS_PROXY', path: 'behind_tls_proxy', type: 'bool' },
  { env: 'LOKI_TRUSTED_PROXIES', path: 'trusted_proxies', type: 'list' },
  { env: 'LOKI_DAEMON_SOCKET', path: 'daemon.socket', type: 'string' },
  { env: 'LOKI_DAEMON_ADDRESS', path: 'daemon.address', type: 'string' },
  { env: 'LOKI_DAEMON_TLS_CA', path: 'daemon.tls.ca', type: 'string' },
  { env: 'LOKI_DAEMON_TLS_CERT', path: 'daemon.tls.cert', type: 'string' },
  { env: 'LOKI_DAEMON_TLS_KEY', path: 'daemon.tls.key', type: 'string' },
  { env: 'LOKI_DAEMON_TLS_SERVER_NAME', path: 'daemon.tls.server_name', type: 'string' },
  { env: 'LOKI_DAEMON_BATCH_CALLS', path: 'daemon.batch_calls', type: 'bool' },
  { env: 'LOKI_TLS_CERT', path: 'tls.cert', type: 'string' },
  { env: 'LOKI_TLS_KEY', path: 'tls.key', type: 'string' },
  { env: 'LOKI_ENTERPRISE_AUTH', path: 'enterprise.auth.enabled', type: 'bool' },
  { env: 'LOKI_TOKEN_CACHE_MS', path: 'enterprise.auth.token_cache_ms', type: 'int' },
  { env: 'LOKI_RATE_LIMIT_PER_MINUTE', path: 'rate_limit.per_minute', type: 'int' },
  { env: 'LOKI_RATE_LIMIT_BURST', path: 'rate_limit.burst', type: 'int' },
  { env: 'LOKI_RATE_LIMIT_CONCURRENCY', path: 'rate_limit.concurrency', type: 'int' },
  { env: 'LOKI_RATE_LIMIT_MAX_STREAMS', path: 'rate_limit.max_streams_per_subject', type: 'int' },
  { env: 'LOKI_CORS_ORIGINS', path: 'cors.origins', type: 'list' },
  { env: 'LOKI_METRICS_LISTEN', path: 'metrics.listen', type: 'string' },
  { env: 'LOKI_METRICS_PUBLIC', path: 'metrics.public', type: 'bool' },
  { env: 'LOKI_LOG_LEVEL', path: 'log.level', type: 'string' },
  { env: 'LOKI_LOG_FORMAT', path: 'log.format', type: 'string' },
];

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./i.test(h);
  return false;
}

/** The daemon is either a local socket or a mutual-TLS TCP address; there is no plaintext TCP. */
function refineDaemon(d: z.output<ReturnType<typeof buildSchema>>['daemon'], problems: string[]): void {
  if (d.socket && d.address) {
    problems.push('daemon: set either daemon.socket (LOKI_DAEMON_SOCKET) or daemon.address (LOKI_DAEMON_ADDRESS), not both');
  }
  if (d.socket && /^(tcp|https?|dns|ipv[46]):|^[^/]*:\d{1,5}$/.test(d.socket)) {
    problems.push(`daemon.socket: ${JSON.stringify(d.socket)} looks like a network address; a TCP daemon is reached with daemon.address plus daemon.tls (mutual TLS only)`);
  }
  if (d.address) {
    const missing = (['ca', 'cert', 'key'] as const).filter((k) => !d.tls?.[k]);
    if (missing.length) {
      problems.push(
        `daemon.tls: a TCP daemon address is mutual TLS only (there is no plaintext TCP); set ${missing.map((k) => `daemon.tls.${k} (LOKI_DAEMON_TLS_${k.toUpperCase()})`).join(', ')}`,
      );
    }
  } else if (d.tls) {
    problems.push('daemon.tls: applies only to daemon.address (LOKI_DAEMON_ADDRESS); the local socket needs no TLS');
  }
}

/**
 * The metrics listener answers without authentication, and /metrics names every session id, owner
 * count and cost: on a wildcard or any non-loopback address it is refused unless the operator says,
 * with metrics.public, that a firewall or network policy decides who reaches it.
 */
function refineMetrics(m: z.output<ReturnType<typeof buildSchema>>['metrics'], problems: string[]): void {
  if (!m.listen || m.public) return;
  const host = m.listen.slice(0, m.listen.lastIndexOf(':'));
  if (isLoopbackHost(host)) return;
  const wildcard = ['0.0.0.0', '[::]', '[0:0:0:0:0:0:0:0]', '[::0]'].includes(host);
  problems.push(
    `metrics.listen: refusing to serve /metrics without authentication on ${wildcard ? `every interface (${m.listen})` : `the non-loopback address ${m.listen}`}: ` +
      'it shows every session id and its cost to whoever reaches it. Bind it to loopback (metrics.listen: 127.0.0.1:9464, LOKI_METRICS_LISTEN) and scrape from this host, ' +
      'or scrape /metrics on the main listener with a viewer token; if a firewall or network policy limits who can reach this address, set metrics.public: true (LOKI_METRICS_PUBLIC=1)',
  );
}

/** Cross-field rules: the safe-by-default bind policy, the daemon road and CORS sanity. */
function refine(cfg: z.output<ReturnType<typeof buildSchema>>, problems: string[]): void {
  refineDaemon(cfg.daemon, problems);
  const loopback = isLoopbackHost(cfg.host);
  const tls = Boolean(cfg.tls.cert || cfg.tls.key);
  if (Boolean(cfg.tls.cert) !== Boolean(cfg.tls.key)) {
    problems.push(`tls: set both cert and key (got only ${cfg.tls.cert ? 'cert' : 'key'})`);
  }
  if (!loopback && !tls && !cfg.behind_tls_proxy) {
    problems.push(
      `host: refusing to bind non-loopback address ${cfg.host} without TLS; set tls.cert/tls.key (LOKI_TLS_CERT/LOKI_TLS_KEY) or behind_tls_proxy: true if a TLS proxy terminates in front`,
    );
  }
  if (!loopback && !cfg.enterprise.auth.enabled) {
    problems.push(`enterprise.auth.enabled: authentication can be disabled (LOKI_ENTERPRISE_AUTH=false) only with a loopback bind, not ${cfg.host}`);
  }
  refineMetrics(cfg.metrics, problems);
  if (cfg.cors.credentials && cfg.cors.origins.includes('*')) {
    problems.push('cors.origins: "*" cannot be combined with cors.credentials: true; list the allowed origins');
  }
  cfg.cors.origins.forEach((o, i) => {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) problems.push(`cors.origins.${i}: expected an origin like https://app.example.com, got ${JSON.stringify(o)}`);
  });
}

export interface LoadGatewayConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** The OIDC module's schema fragment and env bindings (paths relative to enterprise.auth.oidc). */
  oidc?: { schema: z.ZodType; bindings: readonly EnvBinding[] };
  /** Values already parsed (tests, CLI flags); merged under the env overlay. */
  raw?: Record<string, unknown>;
}

export function loadGatewayConfig(opts: LoadGatewayConfigOptions = {}): GatewayConfig {
  const file = { ...(opts.file ? readConfigFile(opts.file) : {}), ...(opts.raw ?? {}) };
  // The OIDC module's bindings are relative to `enterprise.auth` (`oidc.issuer`).
  const oidcBindings = (opts.oidc?.bindings ?? []).map((b) =>
    b.path.startsWith('enterprise.') ? b : { ...b, path: b.path.startsWith('oidc.') ? `enterprise.auth.${b.path}` : `enterprise.auth.oidc.${b.path}` },
  );
  return loadConfig({
    schema: gatewayConfigSchema(opts.oidc?.schema),
    file,
    env: opts.env ?? {},
    bindings: [...gatewayEnvBindings, ...oidcBindings],
    refine,
  }) as GatewayConfig;
}

/** The daemon's gateway socket: explicit config, else `<LOKI_HOME>/run/gateway.sock`. */
export function daemonSocketPath(cfg: GatewayConfig, env: NodeJS.ProcessEnv = {}): string {
  return cfg.daemon.socket ?? runtimePaths(cfg.home ?? defaultLokiHome(env)).gatewaySocket;
}

/**
 * Where the gateway reaches the daemon: `daemon.address` over mutual TLS (PEM files
 * read now, so a restart picks up rotated certificates), else the gateway socket.
 */
export function daemonTarget(cfg: GatewayConfig, env: NodeJS.ProcessEnv = {}): DaemonTarget {
  const { address, tls } = cfg.daemon;
  if (!address) return { socketPath: daemonSocketPath(cfg, env) };
  // loadGatewayConfig refuses an address without all three files; this guards hand-built configs.
  if (!tls?.ca || !tls.cert || !tls.key) throw new LokiError('invalid_config', 'daemon.address needs daemon.tls.ca, cert and key (TCP to the daemon is mutual TLS only)');
  return {
    address,
    tls: { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), ...(tls.server_name ? { serverName: tls.server_name } : {}) },
  };
}

export function tlsEnabled(cfg: GatewayConfig): boolean {
  return Boolean(cfg.tls.cert && cfg.tls.key);
}
