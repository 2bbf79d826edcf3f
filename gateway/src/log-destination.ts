// Where the gateway's JSON log goes. It writes a line per request, and every
// write of pino's asynchronous destination (sonic-boom) is a thread-pool round
// trip: with its default `minLength` 0 one for almost every line (≈ 45 µs of CPU
// per request under wrk), with 4 KiB batches one per dozen lines, still several
// µs per line. Lines are therefore gathered here into batches of up to
// LOG_BATCH_BYTES before they reach sonic-boom, which also spares it re-measuring
// the byte length of its whole pending buffer on every line. A line reaches the
// file or pipe at most LOG_FLUSH_MS late when traffic is low, and what is still
// gathered is written synchronously when the process exits (pino's exit hook
// calls flushSync, which drains this batch first).
import { pino } from 'pino';

export const LOG_FLUSH_MS = 200;
/** Bytes (as UTF-16 code units: one per character of a JSON line) gathered before one write. */
export const LOG_BATCH_BYTES = 64 * 1024;

type Destination = ReturnType<typeof pino.destination>;

export function gatewayLogDestination(target: { fd: number } | { dest: string }): Destination {
  // sonic-boom writes only when asked (a full batch, the periodic flush, exit) or when far
  // behind (`minLength`); `maxWrite` above it lets one write carry what is pending.
  const dest = pino.destination({ ...target, sync: false, minLength: 4 * LOG_BATCH_BYTES, maxWrite: 8 * LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS });
  // The batch in front of sonic-boom: a string built by appending (V8 keeps it as a rope,
  // so appending copies nothing) and handed over whole.
  let batch = '';
  const append = dest.write.bind(dest);
  const flush = dest.flush.bind(dest);
  const flushSync = dest.flushSync.bind(dest);
  const end = dest.end.bind(dest);
  const handOver = () => {
    if (batch.length === 0) return;
    const b = batch;
    batch = '';
    append(b);
  };
  // The instance's own methods, so pino's exit hook (flushSync), the periodic flush (flush)
  // and end() all see the gathered lines. After EPIPE sonic-boom assigns no-ops over these.
  dest.write = (line: string): boolean => {
    batch += line;
    if (batch.length >= LOG_BATCH_BYTES) {
      handOver();
      flush();
    }
    return true;
  };
  dest.flush = (cb?: (err?: Error) => void) => {
    handOver();
    flush(cb);
  };
  dest.flushSync = () => {
    handOver();
    flushSync();
  };
  dest.end = () => {
    handOver();
    end();
  };
  return dest;
}
