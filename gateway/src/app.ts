// buildApp(deps): the gateway's Fastify instance, fully wired but not
// listening. main.ts supplies real dependencies; tests build the same app with
// a real daemon on temp sockets.
import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../../common/src/index.js';
import { AuditForwarder } from './audit-forwarder.js';
import { Authenticator, type AuthSettings } from './auth/authenticator.js';
import { cookieSessionRoutes } from './auth/cookie-session-routes.js';
import { WebSessionStore } from './auth/cookie-session.js';
import { disabledOidc } from './auth/oidc-disabled.js';
import type { OidcAuthenticator } from './auth/oidc/types.js';
import { tlsEnabled, type GatewayConfig } from './config.js';
import type { DaemonClient } from '../../client/src/grpc/index.js';
import { RequestLimiter, type LimiterSettings } from './limits/limiter.js';
import { MemoryRateLimitStore, type RateLimitStore } from './limits/store.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { classify, errorsPlugin, sendError } from './plugins/errors.js';
import { finiteNumbersPlugin } from './plugins/finite-numbers.js';
import { guardPlugin, type RouteEntry } from './plugins/guard.js';
import { observabilityPlugin } from './plugins/observability.js';
import { REQUEST_ID, requestLoggerFactory } from './plugins/request-logger.js';
import { securityPlugin, type SecuritySettings } from './plugins/security.js';
import { StreamTicketStore } from './plugins/stream-tickets.js';
import { openApiCollector, openApiRoutes, type CollectedRoute } from './openapi.js';
import { auditRoutes } from './routes/audit.js';
import { dashboardRoutes, type DashboardOptions } from './routes/dashboard.js';
import { defaultRouteGroups } from './routes/groups.js';
import { streamTicketRoutes } from './routes/stream-ticket.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { statusRoutes } from './routes/status.js';
import { tokenRoutes } from './routes/tokens.js';

export interface TlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

/** A route group another feature contributes (sessions, control…); it must declare config.access on every route. */
export interface RouteGroup {
  plugin: FastifyPluginAsync<Record<string, unknown>>;
  options?: Record<string, unknown>;
}

export interface GatewayDeps {
  config: GatewayConfig;
  daemon: DaemonClient;
  logger: Logger;
  oidc?: OidcAuthenticator;
  /** TLS key/cert already read from disk; omitted = plain HTTP. */
  tls?: TlsMaterial;
  metrics?: GatewayMetrics;
  rateLimitStore?: RateLimitStore;
  /** The API's route groups; default: every group (sessions, control, approvals, sandboxes, projects, policy). */
  routes?: readonly RouteGroup[];
  /** false skips per-request metrics and request logging (benchmarks only: the "off" baseline). */
  observability?: boolean;
  /** Where the built web dashboard lives (default dist/web). */
  web?: DashboardOptions;
}

export interface GatewayHandle {
  readonly routes: readonly RouteEntry[];
  readonly metrics: GatewayMetrics;
  readonly limiter: RequestLimiter;
  readonly authenticator: Authenticator;
  readonly audit: AuditForwarder;
  readonly webSessions: WebSessionStore;
  readonly tickets: StreamTicketStore;
  /** Every route with its schema, as /openapi.json describes it. */
  readonly openapi: readonly CollectedRoute[];
  config(): GatewayConfig;
  /** Applies a new, already-validated config (and new TLS material) atomically; throws and changes nothing if TLS material is rejected. */
  reload(next: GatewayConfig, tls?: TlsMaterial): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    loki: GatewayHandle;
  }
}

function limiterSettings(cfg: GatewayConfig): LimiterSettings {
  return { ...cfg.rate_limit };
}

function authSettings(cfg: GatewayConfig): AuthSettings {
  const a = cfg.enterprise.auth;
  return { enabled: a.enabled, anonymousRole: a.anonymous_role, tokenCacheMs: a.token_cache_ms };
}

function securitySettings(cfg: GatewayConfig): SecuritySettings {
  return {
    hstsMaxAgeS: tlsEnabled(cfg) || cfg.behind_tls_proxy ? cfg.tls.hsts_max_age_s : undefined,
    corsOrigins: cfg.cors.origins,
    corsCredentials: cfg.cors.credentials,
  };
}

export async function buildApp(deps: GatewayDeps): Promise<FastifyInstance> {
  let config = deps.config;
  const oidc = deps.oidc ?? disabledOidc();
  const metrics = deps.metrics ?? createGatewayMetrics({ daemon: () => deps.daemon });
  const limiter = new RequestLimiter({
    store: deps.rateLimitStore ?? new MemoryRateLimitStore({ maxEntries: config.rate_limit.max_entries }),
    settings: limiterSettings(config),
  });
  const webSessions = new WebSessionStore();
  // Secure cookies whenever the browser reaches us over TLS (ours or a terminating proxy's).
  const secureCookies = () => tlsEnabled(config) || config.behind_tls_proxy;
  const authenticator = new Authenticator({ daemon: deps.daemon, oidc, settings: authSettings(config), webSessions, secureCookies });
  const audit = new AuditForwarder({
    sender: deps.daemon,
    capacity: config.audit.buffer_size,
    log: deps.logger.child({ component: 'audit-forwarder' }),
    onForwarded: () => metrics.auditForwarded.inc(),
    onDropped: () => metrics.auditDropped.inc(),
    onThrottled: () => metrics.auditThrottled.inc(),
    onAggregated: () => metrics.auditAggregated.inc(),
    onBuffered: (n) => metrics.auditBuffered.set(n),
  });
  let security = securitySettings(config);
  const routes: RouteEntry[] = [];
  const collected: CollectedRoute[] = [];
  const tickets = new StreamTicketStore();

  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }),
    // One line per request is written by the observability plugin (with subject and route).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: REQUEST_ID }),
    // req.log makes its pino child only when something logs through it (see request-logger.ts).
    childLoggerFactory: requestLoggerFactory,
    genReqId: () => randomUUID(),
    // proxy-addr walks X-Forwarded-For from the right and stops at the first
    // untrusted hop, which is exactly the client address we want.
    trustProxy: config.trusted_proxies.length ? [...config.trusted_proxies] : false,
    bodyLimit: config.body_limit_bytes,
    return503OnClosing: true,
    // Router-level rejections (a bad %-escape, an over-long path parameter) never reach
    // the error handler; without this they leave as Fastify's own body, without X-Request-Id.
    frameworkErrors: (err, req, reply) => sendError(req, reply, classify(err, req)),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    ...(deps.tls ? { https: { key: deps.tls.key, cert: deps.tls.cert, minVersion: config.tls.min_version } } : {}),
  }) as unknown as FastifyInstance;

  const handle: GatewayHandle = {
    routes,
    metrics,
    limiter,
    authenticator,
    audit,
    webSessions,
    tickets,
    openapi: collected,
    config: () => config,
    reload(next, tls) {
      // TLS first: it is the only step that can still fail, and a failure must leave everything as it was.
      if (tls) {
        const server = app.server as unknown as { setSecureContext?: (o: object) => void };
        if (!server.setSecureContext) throw new Error('TLS material given but the gateway is not serving TLS');
        server.setSecureContext({ key: tls.key, cert: tls.cert, minVersion: next.tls.min_version });
      }
      oidc.reload(next.enterprise.auth.oidc);
      limiter.update(limiterSettings(next));
      authenticator.update(authSettings(next));
      security = securitySettings(next);
      app.log.level = next.log.level;
      config = next;
    },
  };
  app.decorate('loki', handle);

  await app.register(errorsPlugin);
  // Before the guard: its onRequest hook marks upgrade requests, and only a marked request's
  // socket is destroyed after a refusal (401/403/429); otherwise every refused upgrade would
  // leave a socket open. Before any route: its onRoute hook turns `websocket: true` routes
  // into upgrade handlers. 1 MiB frames bound memory per connection.
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(securityPlugin, { settings: () => security });
  if (deps.observability !== false) await app.register(observabilityPlugin, { metrics });
  await app.register(guardPlugin, {
    authenticator,
    limiter,
    metrics,
    audit,
    security: () => security,
    routes,
    log: deps.logger,
    tickets,
  });
  await app.register(openApiCollector, { routes: collected });
  await app.register(finiteNumbersPlugin);

  await app.register(healthRoutes, { daemon: deps.daemon, limiter });
  await app.register(statusRoutes, { daemon: deps.daemon, authEnabled: () => authenticator.enabled, oidcStatus: () => oidc.status() });
  await app.register(tokenRoutes, { daemon: deps.daemon });
  await app.register(auditRoutes, { daemon: deps.daemon });
  if (!config.metrics.listen) await app.register(metricsRoutes, { metrics });
  await app.register(async (child) => oidc.registerRoutes(child));
  await app.register(cookieSessionRoutes, { store: webSessions, secureCookies, security: () => security, oidcStatus: () => oidc.status() });
  await app.register(dashboardRoutes, deps.web ?? {});
  await app.register(streamTicketRoutes, { tickets, routes });
  await app.register(openApiRoutes, { routes: collected });
  for (const group of deps.routes ?? defaultRouteGroups(deps.daemon)) await app.register(group.plugin, group.options ?? {});

  app.addHook('onClose', async () => {
    // Give in-flight audit events a moment to reach a reachable daemon; do not wait on one that is down.
    if (!audit.retrying()) await Promise.race([audit.idle(), new Promise((r) => setTimeout(r, 2000).unref())]);
    audit.close();
  });
  return app;
}
