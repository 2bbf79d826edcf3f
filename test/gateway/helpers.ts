// Real parts for gateway tests: a real lokid on temp sockets, real tokens
// generated over its admin socket, a real Fastify app, a self-signed cert from
// openssl, and a pino logger whose output the test can read.
import { credentials, Metadata } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../../common/src/index.js';
import { startDaemon } from '../../daemon/src/daemon.js';
import { TokenServiceClient, type GenerateTokenResponse, type TokenServiceClient as TokenClient } from '../../proto/gen/loki/v1/tokens.js';
import { buildApp, type GatewayDeps } from '../../gateway/src/app.js';
import { loadGatewayConfig, type GatewayConfig } from '../../gateway/src/config.js';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { createGatewayMetrics } from '../../gateway/src/metrics.js';

export function tempDir(prefix = 'loki-gw-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestDaemon {
  home: string;
  adminSocket: string;
  gatewaySocket: string;
  close(): Promise<void>;
}

function tokenClient(socket: string): TokenClient {
  return new TokenServiceClient(`unix:${socket}`, credentials.createInsecure());
}

/** A real lokid (startDaemon) on a temp LOKI_HOME; removed again on close. */
export async function startTestDaemon(overrides?: Record<string, unknown>): Promise<TestDaemon> {
  const { dir: home, cleanup } = tempDir('loki-gwd-');
  const d = await startDaemon({ home, env: { LOKI_HOME: home }, logLevel: 'silent', ...(overrides ? { overrides } : {}) });
  return {
    home,
    adminSocket: d.paths.adminSocket,
    gatewaySocket: d.paths.gatewaySocket,
    close: async () => {
      await d.close();
      cleanup();
    },
  };
}

/** Generates a real token as the local admin (admin socket). */
export async function generateToken(
  adminSocket: string,
  req: { name: string; role?: string; scopes?: string[]; expiresDays?: number },
): Promise<{ secret: string; id: string }> {
  const c = tokenClient(adminSocket);
  try {
    const r = await new Promise<GenerateTokenResponse>((resolve, reject) =>
      c.generate(
        { name: req.name, role: req.role ?? '', scopes: req.scopes ?? [], expiresDays: req.expiresDays ?? 0 },
        new Metadata(),
        { deadline: Date.now() + 5000 },
        (err, res) => (err ? reject(err) : resolve(res)),
      ),
    );
    return { secret: r.secret, id: r.token?.id ?? '' };
  } finally {
    c.close();
  }
}

export async function revokeToken(adminSocket: string, nameOrId: string): Promise<void> {
  const c = tokenClient(adminSocket);
  try {
    await new Promise<void>((resolve, reject) =>
      c.revoke({ nameOrId }, new Metadata(), { deadline: Date.now() + 5000 }, (err) => (err ? reject(err) : resolve())),
    );
  } finally {
    c.close();
  }
}

/** A logger that writes JSON lines into `lines` (through the same redaction as production). */
export function captureLogger(level = 'info'): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ name: 'loki-gateway-test', level, destination: destination as unknown as import('pino').DestinationStream });
  return { logger, lines, text: () => lines.join('') };
}

export function selfSignedCert(dir: string, name = 'gw'): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

export interface TestGateway {
  app: FastifyInstance;
  daemon: DaemonClient;
  config: GatewayConfig;
  close(): Promise<void>;
}

/** Builds the real app against a daemon socket; `raw` overrides config keys. */
export async function buildTestGateway(opts: {
  socket: string;
  raw?: Record<string, unknown>;
  logger?: Logger;
  deps?: Partial<GatewayDeps>;
}): Promise<TestGateway> {
  const config = loadGatewayConfig({ raw: { daemon: { socket: opts.socket }, ...(opts.raw ?? {}) } });
  const metrics = opts.deps?.metrics ?? createGatewayMetrics({ processMetrics: false });
  const daemon = createDaemonClient({ socketPath: opts.socket, timeoutMs: 3000, observe: metrics.observeGrpc });
  const app = await buildApp({
    config,
    daemon,
    logger: opts.logger ?? createLogger({ name: 'gw-test', level: 'silent' }),
    metrics,
    ...opts.deps,
  });
  await app.ready();
  return {
    app,
    daemon,
    config,
    close: async () => {
      await app.close();
      daemon.close();
    },
  };
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
