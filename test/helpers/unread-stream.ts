// A gRPC server stream opened over raw HTTP/2 and never read, as a compromised
// gateway would hold one: unlike a paused grpc-js call, nothing takes its data
// off the connection, so lokid's writes to it really block.
import { connect as http2Connect } from 'node:http2';
import { connect } from 'node:net';

export interface UnreadStream {
  /** Starts reading and resolves with the grpc-status the stream ends with, or 'still open' after `ms`. */
  finish(ms: number): Promise<string>;
}

/** Opens `path` on the unix socket with one encoded `request` and the given headers (metadata), and never reads it. */
export function unreadStream(socket: string, path: string, request: Uint8Array, headers: Record<string, string>): UnreadStream {
  const session = http2Connect('http://localhost', { createConnection: () => connect(socket) });
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
  const frame = Buffer.alloc(5 + request.length);
  frame.writeUInt32BE(request.length, 1);
  Buffer.from(request).copy(frame, 5);
  req.end(frame);
  req.pause();
  let grpcStatus: string | undefined;
  req.on('response', (h) => (grpcStatus ??= h['grpc-status'] as string | undefined));
  req.on('trailers', (h) => (grpcStatus = h['grpc-status'] as string | undefined));
  req.on('error', () => {});
  return {
    finish: (ms) =>
      new Promise((resolve) => {
        const t = setTimeout(() => {
          req.close();
          session.close();
          resolve('still open');
        }, ms);
        req.on('close', () => {
          clearTimeout(t);
          session.close();
          resolve(grpcStatus ?? 'no status');
        });
        req.resume();
      }),
  };
}
