// What every command gets: the global options and, from them, the one
// LokiClient — the admin socket by default, the gateway's HTTP API when a URL
// is given (--url, LOKI_URL, or a stored `loki login`). Commands never open
// sockets or touch generated code; they parse flags and render domain types.
// The transports load when a command opens its client, not when `loki` starts:
// grpc-js with the generated code, or the HTTP client with ws, take longer to load
// than `--help`, a usage error or `--version` take to run (docs/performance.md).
import { readFileSync } from 'node:fs';
import { LokiError, defaultLokiHome, runtimePaths } from '../../common/src/index.js';
import type { LokiClient } from '../../client/src/index.js';
import { readLogin } from './login-store.js';

export interface GlobalOptions {
  home?: string;
  socket?: string;
  url?: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  json?: boolean;
}

export interface CliContext {
  /** Global options (resolved at action time, after parsing). */
  globals(): GlobalOptions;
}

export type Connection =
  | { kind: 'local'; socket: string }
  | { kind: 'remote'; url: string; token?: string; caFile?: string; source: 'flag' | 'env' | 'login' };

export function adminSocketPath(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket) return opts.socket;
  if (env.LOKI_SOCKET) return env.LOKI_SOCKET;
  return runtimePaths(opts.home ?? defaultLokiHome(env)).adminSocket;
}

export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LokiError('invalid_argument', `cannot read the token file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const token = text.trim();
  if (!token) throw new LokiError('invalid_argument', `the token file ${path} is empty`);
  return token;
}

/**
 * Where this invocation talks to. Precedence: flags, then LOKI_URL/LOKI_TOKEN,
 * then the stored `loki login`; without any URL, the local admin socket.
 * An explicit --socket/--home always means local.
 */
export function resolveConnection(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const explicitLocal = g.socket !== undefined || g.home !== undefined;
  if (g.url && explicitLocal) throw new LokiError('invalid_argument', '--url talks to a gateway; --socket/--home to the local daemon: use one');
  // Two token flags would silently pick one; which one the user meant is theirs to say.
  if (g.token !== undefined && g.tokenFile !== undefined) throw new LokiError('invalid_argument', 'give the token with --token or --token-file, not both');
  const flagToken = g.token ?? (g.tokenFile ? readTokenFile(g.tokenFile) : undefined);
  const envToken = env.LOKI_TOKEN?.trim() || (env.LOKI_TOKEN_FILE ? readTokenFile(env.LOKI_TOKEN_FILE) : undefined);
  const caFile = g.caFile ?? (env.LOKI_CA_FILE || undefined);
  if (g.url) return { kind: 'remote', url: g.url, ...tok(flagToken ?? envToken), ...ca(caFile), source: 'flag' };
  if (!explicitLocal && env.LOKI_URL) return { kind: 'remote', url: env.LOKI_URL, ...tok(flagToken ?? envToken), ...ca(caFile), source: 'env' };
  if (!explicitLocal && !env.LOKI_SOCKET) {
    const login = readLogin(env);
    if (login) return { kind: 'remote', url: login.url, ...tok(flagToken ?? envToken ?? login.token), ...ca(caFile ?? login.ca_file), source: 'login' };
  }
  if (flagToken !== undefined) throw new LokiError('invalid_argument', '--token/--token-file need a gateway: add --url https://host:57374 (or `loki login URL`)');
  return { kind: 'local', socket: adminSocketPath(g, env) };
}

const tok = (t: string | undefined) => (t ? { token: t } : {});
const ca = (c: string | undefined) => (c ? { caFile: c } : {});

export async function openClient(conn: Connection): Promise<LokiClient> {
  if (conn.kind === 'local') {
    const { connectAdminSocket } = await import('../../client/src/grpc/index.js');
    return connectAdminSocket({ socketPath: conn.socket });
  }
  let caPem: Buffer | undefined;
  if (conn.caFile) {
    try {
      caPem = readFileSync(conn.caFile);
    } catch (err) {
      throw new LokiError('invalid_argument', `cannot read the CA file ${conn.caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // Node ignores a CA bundle with no certificate in it, and the TLS error that follows would blame the
    // gateway's certificate; name the file instead (never its content: it may be a token file given by mistake).
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new LokiError('invalid_argument', `the CA file ${conn.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  const { createHttpClient } = await import('../../client/src/http/index.js');
  return createHttpClient({ url: conn.url, ...(conn.token ? { token: conn.token } : {}), ...(caPem ? { ca: caPem } : {}) });
}

/** Runs `fn` with a client for this invocation and closes it afterwards. */
export async function withClient<T>(ctx: CliContext, fn: (c: LokiClient, conn: Connection) => Promise<T>): Promise<T> {
  const conn = resolveConnection(ctx.globals());
  const client = await openClient(conn);
  try {
    return await fn(client, conn);
  } finally {
    client.close();
  }
}

/** For commands that need the daemon's host (`up`, `sandbox build`): refuses clearly in remote mode. */
export function requireLocal(ctx: CliContext, what: string): void {
  const conn = resolveConnection(ctx.globals());
  if (conn.kind === 'remote') {
    throw new LokiError('failed_precondition', `${what} runs on the daemon's host only; this loki talks to the gateway at ${conn.url} (${conn.source === 'login' ? 'from `loki login`; `loki logout` or --socket to go local' : 'drop --url/LOKI_URL to go local'})`);
  }
}
