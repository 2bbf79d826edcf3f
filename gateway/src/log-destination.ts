// Where the gateway's JSON log goes. It writes a line per request, and pino's
// asynchronous destination with its default `minLength` 0 starts one write (a
// thread-pool round trip) for almost every line: ≈ 45 µs of CPU per request under
// wrk, more than building the line. Lines are gathered up to 4 KiB and written
// together, and at least every LOG_FLUSH_MS, so a line reaches the file or pipe at
// most that late when traffic is low; pino still writes what is left synchronously
// when the process exits.
//
// Lines are gathered here, as the strings pino hands over, and joined and encoded
// once per batch; sonic-boom (in its buffer mode) gets whole batches. Left to gather
// the lines itself, sonic-boom's text mode appends each line to one growing string
// and measures that whole string's UTF-8 length on every write: V8 flattens the
// string to measure it, copying everything gathered so far, so a line cost a copy of
// up to 16 KiB (≈ 3 µs per request under wrk). Encoding each line on its own (its
// buffer mode as is) still cost a Buffer per line.
// Every way out of sonic-boom (its periodic flush, flush, flushSync at exit, end)
// first hands it the lines gathered here, so no line is left behind or reordered.
import { pino } from 'pino';

export const LOG_FLUSH_MS = 200;

const BATCH_CHARS = 4096;

type Destination = ReturnType<typeof pino.destination>;

export function gatewayLogDestination(target: { fd: number } | { dest: string }): Destination {
  const dest = pino.destination({ ...target, sync: false, minLength: BATCH_CHARS, periodicFlush: LOG_FLUSH_MS, contentMode: 'buffer' });
  // Buffer mode's own methods (own properties of the instance, set by its constructor).
  const writeBytes = dest.write as unknown as (data: Buffer) => boolean;
  const flush = dest.flush;
  const flushSync = dest.flushSync;
  const end = dest.end;
  let lines: string[] = [];
  let chars = 0;
  const handOver = () => {
    if (lines.length === 0) return;
    const batch = lines.join('');
    lines = [];
    chars = 0;
    writeBytes.call(dest, Buffer.from(batch));
  };
  dest.write = (line: string) => {
    lines.push(line);
    chars += line.length;
    if (chars >= BATCH_CHARS) handOver();
    return true;
  };
  dest.flush = (cb?: (err?: Error) => void) => {
    handOver();
    flush.call(dest, cb);
  };
  dest.flushSync = () => {
    handOver();
    flushSync.call(dest);
  };
  dest.end = () => {
    handOver();
    end.call(dest);
  };
  return dest;
}
