// The OpenAPI document of a default-configured gateway, built without a daemon
// (no call is made) and without listening: for scripts/gen-api-docs.mjs and the
// test that keeps docs/api.md current.
import { createLogger } from '../../common/src/index.js';
import { buildApp } from './app.js';
import { createOidcAuthenticator } from './auth/oidc/index.js';
import { loadGatewayConfig } from './config.js';
import { createDaemonClient } from '../../client/src/grpc/index.js';
import { GatewayMetrics } from './metrics.js';
import { buildOpenApi, type OpenApiDocument } from './openapi.js';

export async function describeGatewayApi(): Promise<OpenApiDocument> {
  const logger = createLogger({ name: 'loki-gateway-docs', level: 'silent' });
  const config = loadGatewayConfig({ raw: { daemon: { socket: '/nonexistent/loki-gateway.sock' } } });
  // The channel is lazy: nothing connects unless a request is made, and none is.
  const daemon = createDaemonClient({ socketPath: '/nonexistent/loki-gateway.sock', timeoutMs: 1000 });
  const oidc = createOidcAuthenticator({}, { log: logger, secureCookies: true, publicBaseUrl: 'https://127.0.0.1:57374', routeConfig: { access: { scope: 'public' } } });
  const app = await buildApp({ config, daemon, logger, oidc, metrics: new GatewayMetrics({ processMetrics: false }) });
  try {
    await app.ready();
    return buildOpenApi(app.loki.openapi);
  } finally {
    await app.close();
    daemon.close();
  }
}
