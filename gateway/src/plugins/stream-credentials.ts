// An open stream (SSE, a sandbox shell's WebSocket) is admitted once, with the
// credential of its first request; it may then stay open for hours. A token
// revoked or expired since, a browser session logged out or expired, or an OIDC
// bearer token past its `exp` must not keep it going: every STREAM_RECHECK_MS
// the credential is checked again (through the gateway's short token cache, so
// the daemon sees at most one check per token and period) and the stream is
// ended when it no longer passes. A stream that can tell its client why (an SSE
// error event, a WebSocket close frame) does so first; the connection is cut
// either way. A client then reconnects with a fresh credential or not at all.
import type { FastifyRequest } from 'fastify';
import { LokiError } from '../../../common/src/index.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Identity } from '../auth/identity.js';

export const STREAM_RECHECK_MS = 5_000;
/** How long a stream that says goodbye has before its connection is cut anyway. */
export const STREAM_GOODBYE_MS = 2_000;

const GOODBYE = Symbol('loki.streamGoodbye');
const ENDED = Symbol('loki.streamEnded');
type WithGoodbye = FastifyRequest & { [GOODBYE]?: (err: LokiError) => void; [ENDED]?: () => void };

/**
 * How this request's stream tells its client that its credential no longer passes (an SSE
 * `event: error`, a WebSocket error message and close frame). Without one the connection is cut.
 */
export function onCredentialLost(req: FastifyRequest, goodbye: (err: LokiError) => void): void {
  (req as WithGoodbye)[GOODBYE] = goodbye;
}

/**
 * The stream of this request is over while its connection may live on (an SSE response that ended
 * on a kept-alive connection): stop checking its credential, and never cut the connection, which
 * may already carry the client's next request.
 */
export function streamEnded(req: FastifyRequest): void {
  (req as WithGoodbye)[ENDED]?.();
}

/** What the client of a stream ended this way is told. */
export function credentialLost(): LokiError {
  return new LokiError('unauthenticated', 'the credential this stream was opened with is no longer valid (revoked, expired or signed out); sign in again and reopen it');
}

/** Starts checking the stream's credential again until its connection closes. */
export function watchStreamCredential(req: FastifyRequest, identity: Identity, authenticator: Authenticator, everyMs = STREAM_RECHECK_MS): void {
  const socket = req.raw.socket;
  let checking = false;
  let ended = false;
  const timer = setInterval(() => {
    if (checking || ended) return;
    checking = true;
    void authenticator
      .stillValid(identity, req.id, req.ip)
      .then((ok) => {
        if (ok || ended || socket.destroyed) return;
        req.log.info({ subject: identity.subject }, 'closing a stream whose credential is no longer valid');
        clearInterval(timer);
        const goodbye = (req as WithGoodbye)[GOODBYE];
        if (!goodbye) return void socket.destroy();
        try {
          goodbye(credentialLost());
        } finally {
          // A stream that ended itself after its goodbye leaves the connection alone.
          setTimeout(() => ended || socket.destroy(), STREAM_GOODBYE_MS).unref();
        }
      })
      .finally(() => {
        checking = false;
      });
  }, everyMs);
  timer.unref();
  const stop = () => {
    ended = true;
    clearInterval(timer);
  };
  (req as WithGoodbye)[ENDED] = stop;
  socket.once('close', stop);
}
