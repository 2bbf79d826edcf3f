// An open stream (SSE, a sandbox shell's WebSocket) is admitted once, with the
// credential of its first request; it may then stay open for hours. A token
// revoked or expired since — or an OIDC bearer token past its `exp` — must not
// keep it going: every STREAM_RECHECK_MS the credential is checked again (through
// the gateway's short token cache, so the daemon sees at most one check per token
// and period) and the connection is cut when it no longer passes. A client then
// reconnects with a fresh credential or not at all.
import type { FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import type { Identity } from '../auth/identity.js';

export const STREAM_RECHECK_MS = 5_000;

/** Starts checking the stream's credential again until its connection closes. */
export function watchStreamCredential(req: FastifyRequest, identity: Identity, authenticator: Authenticator, everyMs = STREAM_RECHECK_MS): void {
  const socket = req.raw.socket;
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void authenticator
      .stillValid(identity, req.id, req.ip)
      .then((ok) => {
        if (ok || socket.destroyed) return;
        req.log.info({ subject: identity.subject }, 'closing a stream whose credential is no longer valid');
        socket.destroy();
      })
      .finally(() => {
        checking = false;
      });
  }, everyMs);
  timer.unref();
  socket.once('close', () => clearInterval(timer));
}
