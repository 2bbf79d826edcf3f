// `exec` and the interactive `shell` of a sandbox over a WebSocket, relayed to
// the daemon's SandboxService.Exec stream (the same one the admin socket uses).
// Text frames are JSON control messages, binary frames are bytes:
//   client → server: {"type":"start",argv,tty,cols,rows,env,workdir} (first, once),
//                    binary = stdin, {"type":"resize",cols,rows}, {"type":"close_stdin"}
//   server → client: binary = output (no TTY: first byte 1 = stdout, 2 = stderr),
//                    {"type":"exit","exit_code":N} then close 1000,
//                    {"type":"error","error":{code,message}} then close 1008/1011
//                    (also when the credential it was opened with stops passing:
//                    code `unauthenticated`, close 1008 "unauthenticated").
// The upgrade request passes the same guard as any route (control scope; a
// ticket or the Authorization header; never a token in the URL).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket, RawData } from 'ws';
import { LokiError } from '../../../common/src/index.js';
import type { ExecOptions, ExecSession } from '../../../client/src/index.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';
import { onCredentialLost } from '../plugins/stream-credentials.js';
import type { RouteAccess } from './access.js';
import { sandboxParams } from './sandboxes.js';

export interface SandboxWsOptions {
  daemon: DaemonClient;
  /** How long the client has to send its start message (default 10 s). */
  startTimeoutMs?: number;
}

const ACCESS: RouteAccess = { scope: 'control', owner: true, stream: true };
const MAX_ARGV = 256;
const MAX_ARG = 8192;
const MAX_ENV = 128;
// Output is paused while this much is queued for a slow client.
const HIGH_WATER = 1024 * 1024;

const dim = (v: unknown, field: string, dflt: number): number => {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1000) throw new LokiError('invalid_argument', `start/${field} must be an integer from 1 to 1000`);
  return v;
};

/** Validates the start message; field errors name the field, as the JSON schemas do. */
export function parseStart(raw: unknown, shell: boolean): ExecOptions {
  const m = raw as Record<string, unknown> | null;
  if (!m || typeof m !== 'object' || m.type !== 'start') throw new LokiError('invalid_argument', 'the first message must be {"type":"start",…}');
  const argv = m.argv ?? [];
  if (!Array.isArray(argv) || argv.length > MAX_ARGV || argv.some((a) => typeof a !== 'string' || a.length > MAX_ARG)) {
    throw new LokiError('invalid_argument', `start/argv must be a list of at most ${MAX_ARGV} strings`);
  }
  if (!shell && argv.length === 0) throw new LokiError('invalid_argument', 'start/argv is required for exec (use the shell route for a login shell)');
  const env = m.env ?? {};
  if (!env || typeof env !== 'object' || Array.isArray(env) || Object.keys(env).length > MAX_ENV) throw new LokiError('invalid_argument', `start/env must be an object of at most ${MAX_ENV} strings`);
  for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(k) || typeof v !== 'string' || v.length > MAX_ARG) throw new LokiError('invalid_argument', `start/env/${k.slice(0, 40)} is not a valid variable`);
  }
  const workdir = m.workdir ?? '';
  if (typeof workdir !== 'string' || workdir.length > 4096 || (workdir && !workdir.startsWith('/'))) throw new LokiError('invalid_argument', 'start/workdir must be an absolute path');
  if (m.tty !== undefined && typeof m.tty !== 'boolean') throw new LokiError('invalid_argument', 'start/tty must be a boolean');
  return {
    argv: argv as string[],
    // The shell route is always a terminal; exec is one only when asked.
    tty: shell ? true : m.tty === true,
    cols: dim(m.cols, 'cols', 80),
    rows: dim(m.rows, 'rows', 24),
    env: env as Record<string, string>,
    ...(workdir ? { workdir } : {}),
  };
}

function sendError(socket: WebSocket, err: unknown, req: FastifyRequest): void {
  const le = err instanceof LokiError ? err : new LokiError('internal', 'exec failed', { cause: err });
  if (le.kind === 'internal') req.log.error({ err }, 'sandbox exec failed');
  if (socket.readyState === socket.OPEN) {
    socket.send(JSON.stringify({ type: 'error', error: { code: le.code, message: le.message, request_id: req.id } }));
    // 1008 policy violation for refusals (bad input, not found, no scope), 1011 for our own failures.
    socket.close(le.kind === 'internal' || le.kind === 'unavailable' ? 1011 : 1008, le.code.slice(0, 100));
  }
}

async function relay(socket: WebSocket, req: FastifyRequest<{ Params: { id: string } }>, opts: SandboxWsOptions, shell: boolean): Promise<void> {
  let session: ExecSession | undefined;
  let closed = false;
  const pending: { data: RawData; isBinary: boolean }[] = [];
  let onStart: ((m: RawData) => void) | undefined;

  const handleControl = (s: ExecSession, data: RawData, isBinary: boolean) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) return s.write(buf);
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new LokiError('invalid_argument', 'text frames must be JSON control messages');
    }
    if (m.type === 'resize') return s.resize(dim(m.cols, 'cols', 80), dim(m.rows, 'rows', 24));
    if (m.type === 'close_stdin') return s.closeStdin();
    throw new LokiError('invalid_argument', `unknown message type ${JSON.stringify(String(m.type).slice(0, 40))}`);
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (!session) {
      if (onStart && !isBinary) onStart(data);
      else pending.push({ data, isBinary });
      return;
    }
    try {
      handleControl(session, data, isBinary);
    } catch (err) {
      sendError(socket, err, req);
    }
  });
  // A credential revoked or signed out while the shell is open ends it with a reason the client can show.
  onCredentialLost(req, (err) => sendError(socket, err, req));
  socket.on('close', () => {
    closed = true;
    session?.cancel();
    // The reply was hijacked, so onResponse never runs: give back the stream place here.
    req.lokiReleases?.releaseAll();
  });

  const first = await new Promise<RawData | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), opts.startTimeoutMs ?? 10_000);
    onStart = (m) => {
      onStart = undefined;
      clearTimeout(timer);
      resolve(m);
    };
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  if (closed) return;
  if (!first) return sendError(socket, new LokiError('invalid_argument', 'no start message within the time limit'), req);
  let start: ExecOptions;
  try {
    const buf = Array.isArray(first) ? Buffer.concat(first) : Buffer.from(first as ArrayBuffer);
    start = parseStart(JSON.parse(buf.toString('utf8')), shell);
  } catch (err) {
    return sendError(socket, err instanceof SyntaxError ? new LokiError('invalid_argument', 'the start message is not JSON') : err, req);
  }

  try {
    session = await opts.daemon.forCaller(callIdentity(req)).sandboxes.exec(req.params.id, start);
  } catch (err) {
    return sendError(socket, err, req);
  }
  if (closed) return session.cancel();
  // Input and resizes sent while the exec was starting are applied in order.
  try {
    for (const m of pending.splice(0)) handleControl(session, m.data, m.isBinary);
  } catch (err) {
    session.cancel();
    return sendError(socket, err, req);
  }

  try {
    for await (const out of session) {
      if (closed) break;
      if (out.stream === 'exit') {
        socket.send(JSON.stringify({ type: 'exit', exit_code: out.exit_code }));
        socket.close(1000, 'exit');
        return;
      }
      const body = start.tty ? Buffer.from(out.data) : Buffer.concat([Buffer.from([out.stream === 'stderr' ? 2 : 1]), Buffer.from(out.data)]);
      socket.send(body, { binary: true });
      while (!closed && socket.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 10));
    }
    if (!closed) socket.close(1011, 'exec ended without an exit code');
  } catch (err) {
    sendError(socket, err, req);
  }
}

export async function sandboxWsRoutes(app: FastifyInstance, opts: SandboxWsOptions): Promise<void> {
  const querystring = { type: 'object', additionalProperties: false, properties: {} } as const;
  for (const [name, shell] of [
    ['exec', false],
    ['shell', true],
  ] as const) {
    app.get<{ Params: { id: string } }>(
      `/api/sandboxes/:id/${name}`,
      {
        websocket: true,
        config: { access: ACCESS },
        schema: {
          summary: shell ? 'Interactive TTY shell in a sandbox over a WebSocket (resize, exit code)' : 'Run a command in a sandbox over a WebSocket (stdin, stdout/stderr, exit code)',
          description:
            'Text frames are JSON control messages, binary frames bytes. Client → server: {"type":"start","argv":[…],"tty":bool,"cols":80,"rows":24,"env":{},"workdir":"/workspace"} first, then binary stdin, {"type":"resize","cols","rows"}, {"type":"close_stdin"}. Server → client: binary output (without a TTY the first byte is 1 = stdout or 2 = stderr), {"type":"exit","exit_code":N} then close 1000; on failure {"type":"error","error":{"code","message"}} then close 1008 (refused) or 1011. The credential it was opened with is checked again every 5 s: once it is revoked, expired or signed out, {"type":"error","error":{"code":"unauthenticated",…}} then close 1008 "unauthenticated".',
          params: sandboxParams,
          querystring,
        },
      },
      (socket: WebSocket, req: FastifyRequest) => relay(socket, req as FastifyRequest<{ Params: { id: string } }>, opts, shell),
    );
  }
}
