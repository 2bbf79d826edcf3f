// Where the gateway's JSON log goes. It writes a line per request, and pino's
// asynchronous destination with its default `minLength` 0 starts one write (a
// thread-pool round trip) for almost every line: ≈ 45 µs of CPU per request under
// wrk, more than building the line. Lines are gathered up to 4 KiB and written
// together, and at least every LOG_FLUSH_MS, so a line reaches the file or pipe at
// most that late when traffic is low; pino still writes what is left synchronously
// when the process exits.
//
// The destination keeps its lines as bytes (sonic-boom's buffer mode), each line
// encoded once as it arrives. In its text mode sonic-boom appends every line to one
// growing string and measures that whole string's UTF-8 length on each write: V8
// flattens the string to measure it, copying everything gathered so far, so a line
// cost a copy of up to 16 KiB (≈ 3 µs per request under wrk, the largest single cost
// of the request line).
import { pino } from 'pino';

export const LOG_FLUSH_MS = 200;

type Destination = ReturnType<typeof pino.destination>;

export function gatewayLogDestination(target: { fd: number } | { dest: string }): Destination {
  const dest = pino.destination({ ...target, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS, contentMode: 'buffer' });
  // Buffer mode takes only bytes; pino (and the request-line writer) write strings.
  const writeBytes = dest.write as unknown as (data: Buffer) => boolean;
  dest.write = (data: string) => writeBytes.call(dest, Buffer.from(data));
  return dest;
}
