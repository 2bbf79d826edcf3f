#!/usr/bin/env node
// loki-gateway: wires real dependencies into buildApp, listens (HTTP or HTTPS
// with TLS ≥ 1.2), reloads on SIGHUP, closes gracefully on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, LokiError, createLogger, isMainModule, logDestination, type Logger } from '../../common/src/index.js';
import { trimHeapWhenSettled } from '../../common/src/heap-trim.js';
import { buildApp, type TlsMaterial } from './app.js';
import { createOidcAuthenticator, oidcConfigSchema, oidcEnvBindings } from './auth/oidc/index.js';
import { daemonTarget, loadGatewayConfig, tlsEnabled, type GatewayConfig, type LoadGatewayConfigOptions } from './config.js';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { createGatewayMetrics } from './metrics.js';
import { buildMetricsApp } from './routes/metrics.js';

const USAGE = `usage: loki-gateway [--config FILE] [--host HOST] [--port PORT] [--tls-cert FILE --tls-key FILE] [--behind-tls-proxy]

Environment: LOKI_API_HOST, LOKI_API_PORT, LOKI_TLS_CERT, LOKI_TLS_KEY, LOKI_ENTERPRISE_AUTH,
LOKI_DAEMON_SOCKET or LOKI_DAEMON_ADDRESS + LOKI_DAEMON_TLS_{CA,CERT,KEY,SERVER_NAME},
LOKI_HOME, LOKI_LOG_LEVEL, LOKI_OIDC_* (see docs/SECURITY.md).
Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT shut down gracefully.`;

/** Command-line flags win over the environment, which wins over the config file. */
export function configOptionsFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv): LoadGatewayConfigOptions & { help: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'behind-tls-proxy': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const overlay: NodeJS.ProcessEnv = { ...env };
  if (values.host !== undefined) overlay.LOKI_API_HOST = values.host;
  // Checked here so the error names the flag the user typed, not the variable it is passed on as.
  if (values.port !== undefined && !/^\d{1,5}$/.test(values.port)) throw new LokiError('invalid_argument', `--port: expected a port number, got ${JSON.stringify(values.port)}`);
  if (values.port !== undefined) overlay.LOKI_API_PORT = values.port;
  if (values['tls-cert'] !== undefined) overlay.LOKI_TLS_CERT = values['tls-cert'];
  if (values['tls-key'] !== undefined) overlay.LOKI_TLS_KEY = values['tls-key'];
  if (values['behind-tls-proxy']) overlay.LOKI_BEHIND_TLS_PROXY = 'true';
  const file = values.config ?? env.LOKI_GATEWAY_CONFIG;
  return {
    ...(file ? { file } : {}),
    env: overlay,
    oidc: { schema: oidcConfigSchema, bindings: oidcEnvBindings },
    help: values.help === true,
  };
}

function readTls(cfg: GatewayConfig): TlsMaterial | undefined {
  if (!tlsEnabled(cfg)) return undefined;
  return { cert: readFileSync(cfg.tls.cert!), key: readFileSync(cfg.tls.key!) };
}

function publicBaseUrl(cfg: GatewayConfig): string {
  if (cfg.public_url) return cfg.public_url.replace(/\/+$/, '');
  const host = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  return `${tlsEnabled(cfg) ? 'https' : 'http'}://${host}:${cfg.port}`;
}

// Settings bound to sockets or process-wide state cannot change under a running server.
const RESTART_ONLY = ['host', 'port', 'trusted_proxies', 'body_limit_bytes', 'metrics', 'daemon', 'home', 'public_url'] as const;

export interface RunningGateway {
  reload(): boolean;
  close(): Promise<void>;
}

export async function startGateway(options: LoadGatewayConfigOptions, log?: Logger): Promise<RunningGateway> {
  let cfg = loadGatewayConfig(options);
  const env = options.env ?? {};
  const pretty = cfg.log.format === 'pretty' || (cfg.log.format === 'auto' && process.stderr.isTTY === true);
  const logger = log ?? createLogger({ name: 'loki-gateway', level: cfg.log.level, ...(pretty ? { pretty } : { destination: logDestination({ fd: 2 }) }) });
  const mainLog = logger.child({ component: 'main' });

  // The scrape-time callback runs only after `daemon` exists (the client needs the metrics' observer first).
  const metrics = createGatewayMetrics({ daemon: () => daemon });
  const target = daemonTarget(cfg, env);
  const daemon: DaemonClient = createDaemonClient({ ...target, timeoutMs: cfg.daemon.timeout_ms, observe: metrics.observeGrpc, batch: cfg.daemon.batch_calls, observeBatch: metrics.observeBatch });
  const secureCookies = tlsEnabled(cfg) || cfg.behind_tls_proxy;
  const oidc = createOidcAuthenticator(cfg.enterprise.auth.oidc, {
    log: logger,
    secureCookies,
    publicBaseUrl: publicBaseUrl(cfg),
    routeConfig: { access: { scope: 'public' } },
  });

  const app = await buildApp({ config: cfg, daemon, logger, oidc, metrics, ...(tlsEnabled(cfg) ? { tls: readTls(cfg)! } : {}) });
  await app.listen({ host: cfg.host, port: cfg.port });
  mainLog.info({ address: publicBaseUrl(cfg), daemon: 'socketPath' in target ? target.socketPath : `${target.address} (mTLS)`, tls: tlsEnabled(cfg), auth: cfg.enterprise.auth.enabled }, 'gateway listening');

  const metricsApp = cfg.metrics.listen ? buildMetricsApp(metrics) : undefined;
  if (metricsApp && cfg.metrics.listen) {
    const i = cfg.metrics.listen.lastIndexOf(':');
    const host = cfg.metrics.listen.slice(0, i).replace(/^\[|\]$/g, '');
    await metricsApp.listen({ host, port: Number(cfg.metrics.listen.slice(i + 1)) });
    mainLog.info({ address: cfg.metrics.listen }, 'metrics listener up');
  }
  // Give back the young generation that startup grew (≈ 14 MB of idle RSS).
  trimHeapWhenSettled();

  function reload(): boolean {
    try {
      const next = loadGatewayConfig(options);
      const ignored = RESTART_ONLY.filter((k) => JSON.stringify(next[k]) !== JSON.stringify(cfg[k]));
      if (tlsEnabled(next) !== tlsEnabled(cfg)) ignored.push('tls' as never);
      // Restart-only keys keep their running values so what is applied is consistent.
      const applied = { ...next, ...Object.fromEntries(RESTART_ONLY.map((k) => [k, cfg[k]])) } as GatewayConfig;
      const tls = tlsEnabled(cfg) && tlsEnabled(next) ? readTls(next) : undefined;
      app.loki.reload(applied, tls);
      cfg = applied;
      metrics.reloads.inc({ result: 'applied' });
      if (ignored.length) mainLog.warn({ keys: ignored }, 'these settings change only on restart; kept their running values');
      mainLog.info({ log_level: cfg.log.level }, 'configuration reloaded');
      // Never rejects; a reload does not wait for buffer space.
      void app.loki.audit.forward({
        action: 'config.change',
        resource: 'config:gateway',
        result: 'success',
        details: { trigger: 'SIGHUP', restart_required: ignored },
        identity: { requestId: 'sighup', subject: 'system', scopes: [], auth: 'none' },
      });
      return true;
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [err instanceof LokiError ? err.message : String((err as Error).message)];
      metrics.reloads.inc({ result: 'refused' });
      mainLog.error({ problems }, 'configuration reload refused; the previous configuration keeps running');
      // Never rejects; a reload does not wait for buffer space.
      void app.loki.audit.forward({
        action: 'config.change',
        resource: 'config:gateway',
        result: 'error',
        reason: problems.join('; ').slice(0, 1000),
        details: { trigger: 'SIGHUP' },
        identity: { requestId: 'sighup', subject: 'system', scopes: [], auth: 'none' },
      });
      return false;
    }
  }

  return {
    reload,
    async close() {
      await app.close();
      await metricsApp?.close();
      await oidc.close();
      daemon.close();
    },
  };
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof configOptionsFromArgs>;
  try {
    opts = configOptionsFromArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`loki-gateway: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let gw: RunningGateway;
  try {
    gw = await startGateway(opts);
  } catch (err) {
    const msg = err instanceof LokiError ? err.message : `cannot start: ${(err as Error).message}`;
    process.stderr.write(`loki-gateway: ${msg}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  process.on('SIGHUP', () => gw.reload());
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gw.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

// Real paths: started through a symlink (npm link, /usr/local/bin), argv[1] is the link.
if (isMainModule(import.meta.url)) {
  void main();
}
