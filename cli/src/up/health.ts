// grpc.health.v1 Health/Check over the admin socket with node:http2 alone. The
// `loki up` parent only supervises; loading grpc-js and the generated client to
// ask one question at startup kept ~20 MB resident for the life of the process.
// The request is the gRPC wire format by hand: one length-prefixed, empty
// HealthCheckRequest (service ""); the answer is SERVING iff the reply message
// holds field 1 = 1 and the trailers say grpc-status 0.
import { connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';

const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);
// HealthCheckResponse { status: SERVING (1) } → field 1, varint 1.
const SERVING = Buffer.from([0x08, 0x01]);

/** True when a gRPC server on `socketPath` answers Health/Check with SERVING. Never throws. */
export function grpcHealthServing(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const session = connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    session.on('error', () => finish(false));
    const req = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: '/grpc.health.v1.Health/Check',
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    req.on('response', (h) => {
      if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
    });
    req.on('trailers', (t) => {
      status = String(t['grpc-status'] ?? status);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => finish(false));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // 1 byte compression flag (0) + 4 bytes length + the message.
      const ok = status === '0' && body.length >= 5 && body[0] === 0 && body.subarray(5, 5 + body.readUInt32BE(1)).equals(SERVING);
      finish(ok);
    });
    req.end(EMPTY_MESSAGE);
  });
}
