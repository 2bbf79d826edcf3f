// Docker's multiplexed stream format for non-TTY attach/logs: frames of an
// 8-byte header [stream, 0, 0, 0, size(uint32 BE)] followed by `size` bytes.
import type { LogChunk } from './types.js';

export async function* demuxDockerStream(stream: NodeJS.ReadableStream): AsyncIterable<LogChunk> {
  let buf = Buffer.alloc(0);
  for await (const piece of stream) {
    buf = buf.length ? Buffer.concat([buf, piece as Buffer]) : Buffer.from(piece as Buffer);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const kind = buf[0];
      const data = buf.subarray(8, 8 + size);
      buf = buf.subarray(8 + size);
      if (kind === 1 || kind === 2) yield { stream: kind === 2 ? 'stderr' : 'stdout', data: Buffer.from(data) };
    }
  }
}
