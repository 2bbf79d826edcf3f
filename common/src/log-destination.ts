// Where Loki's processes write their JSON log: the gateway a line per request (so
// the cost of a line matters under load), lokid and the CLI far fewer; for all of
// them every line must reach the file or pipe, in order, however the process stops.
//
// Lines are gathered as the strings pino hands over and written together with one
// synchronous `write` once 4 KiB have gathered, and at least `flushMs` after a line
// arrives (the gateway: LOG_FLUSH_MS, so at low traffic a line reaches the log at most
// that late; lokid and the CLI: 0, at the end of the event-loop turn that logged it). One
// join, one encoding and one system call per ≈ 10 request lines: a 4 KiB write to a
// file's page cache or /dev/null costs less CPU than handing it to the thread pool
// (an asynchronous write per line cost ≈ 45 µs of CPU per request under wrk).
//
// Every way out (the batch write, the timer, flush, flushSync, end, and the process's
// `exit` event, which pino cannot hook for a destination it did not build) writes
// what is left synchronously and in order: no write is ever in flight behind the
// writer's back, so a synchronous flush at exit has nothing to wait for and nothing
// to overtake. (An asynchronous writer cannot promise that: a batch already on the
// thread pool may land after what a synchronous flush writes, or not at all.)
//
// A pipe or socket (stderr to journald, a terminal's `| cat`) that is full: on fd 1
// or 2 the destination makes it non-blocking the way Node does whenever anything
// touches process.stdout/stderr (importing pino already does; this does not rely on
// it), so a full pipe answers EAGAIN instead of stalling the event loop. The
// refused bytes are kept, lines keep gathering behind them in memory, and the
// writer tries again on a timer; nothing is dropped or reordered. flushSync waits
// for such a pipe (sleeping, not spinning) as long as its reader makes progress, and
// gives up only after EXIT_STALL_MS without any: a process must be able to exit
// when its log reader has hung. A reader that is gone (EPIPE) takes no more lines.
//
// Not covered: SIGKILL or a crash of the runtime itself loses what is gathered (at
// most LOG_FLUSH_MS or 4 KiB of lines); a terminal is written synchronously, as
// Node writes process.stderr to one; memory is not bounded while a pipe stays full.
import { EventEmitter } from 'node:events';
import { fstatSync, openSync, closeSync, writeSync } from 'node:fs';

export const LOG_FLUSH_MS = 200;

/** How long flushSync waits for a full pipe whose reader takes nothing before it gives up. */
export const EXIT_STALL_MS = 10_000;

const BATCH_CHARS = 4096;

/** The first retry on a full pipe; then doubling, up to LOG_FLUSH_MS. */
const RETRY_MIN_MS = 5;

type Done = (err?: Error) => void;

export interface LogDestinationOptions {
  /** flushSync's patience with a full pipe that makes no progress (tests shorten it). */
  exitStallMs?: number;
  /** How late a line may be written when fewer than 4 KiB gather (default LOG_FLUSH_MS; 0: at the end of the turn). */
  flushMs?: number;
}

export class LogDestination extends EventEmitter {
  private lines: string[] = [];
  private chars = 0;
  /** The unwritten rest of a batch the pipe refused; always written before newer lines. */
  private pending: Buffer | undefined;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private waiters: Done[] = [];
  private ending = false;
  private closed = false;
  /** The reader is gone (EPIPE): nothing can reach it any more. */
  private gone = false;
  private readonly onExit = () => {
    try {
      this.flushSync();
    } catch {
      // At exit there is nowhere left to report a failing log; other exit hooks must still run.
    }
  };
  private readonly onTimer = () => {
    this.timer = undefined;
    this.writeOut(false);
  };
  private readonly onRetry = () => {
    this.retry = undefined;
    this.writeOut(false);
  };

  constructor(
    private readonly fd: number,
    private readonly ownsFd: boolean,
    private readonly exitStallMs: number,
    private readonly flushMs: number = LOG_FLUSH_MS,
  ) {
    super();
    process.on('exit', this.onExit);
    process.nextTick(() => this.emit('ready'));
  }

  write(line: string): boolean {
    if (this.closed) throw new Error('the log destination is closed');
    if (this.gone) return true;
    this.lines.push(line);
    this.chars += line.length;
    // While a full pipe is retried on its timer, lines only gather.
    if (this.chars >= BATCH_CHARS && this.retry === undefined) this.writeOut(false);
    else if (this.timer === undefined) this.timer = (this.flushMs > 0 ? setTimeout(this.onTimer, this.flushMs) : setImmediate(this.onTimer)).unref();
    return true;
  }

  flush(cb?: Done): void {
    if (cb) this.waiters.push(cb);
    // Done, or failed: writeOut has settled the waiters. Refused by a full pipe: its retry will.
    this.writeOut(false);
  }

  /** Writes everything gathered before returning (waiting for a full pipe; see EXIT_STALL_MS). */
  flushSync(): void {
    if (!this.closed) this.writeOut(true);
  }

  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.cancelTimer();
    this.flush((err) => this.close(err));
  }

  private close(err?: Error): void {
    // Lines logged while the end's flush was under way go out first (unless writing has failed).
    if (!err && (this.pending !== undefined || this.lines.length > 0)) {
      this.flush((e) => this.close(e));
      return;
    }
    this.cancelTimer();
    clearTimeout(this.retry);
    this.retry = undefined;
    this.closed = true;
    process.removeListener('exit', this.onExit);
    if (this.ownsFd) closeSync(this.fd);
    process.nextTick(() => this.emit('close'));
  }

  /**
   * Writes what is gathered, oldest first. True when nothing is left; false when a full
   * pipe refused the rest and `wait` is false (a retry is then on its timer).
   */
  private writeOut(wait: boolean): boolean {
    let stalledSince = 0;
    for (;;) {
      if (this.pending === undefined) {
        if (this.lines.length === 0) break;
        this.pending = Buffer.from(this.lines.length === 1 ? this.lines[0]! : this.lines.join(''));
        this.lines = [];
        this.chars = 0;
      }
      let n: number;
      try {
        n = writeSync(this.fd, this.pending);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          if (!wait) return this.retryLater();
          const now = Date.now();
          if (stalledSince === 0) stalledSince = now;
          else if (now - stalledSince >= this.exitStallMs) throw new Error(`the log reader took nothing for ${this.exitStallMs} ms`, { cause: err });
          sleep(Math.min(50, 1 + (now - stalledSince) / 10));
          continue;
        }
        if (code === 'EPIPE') {
          this.goneAway();
          break;
        }
        if (wait) throw err;
        // The bytes are kept for the next try. Unhandled, the error ends the process, as
        // sonic-boom's did; not thrown here, inside whichever request's log line this is.
        this.settle(err as Error);
        process.nextTick(() => this.emit('error', err));
        return false;
      }
      stalledSince = 0;
      this.pending = n < this.pending.length ? this.pending.subarray(n) : undefined;
    }
    this.retryMs = 0;
    if (this.waiters.length > 0) this.settle();
    return true;
  }

  private cancelTimer(): void {
    const t = this.timer;
    this.timer = undefined;
    if (t === undefined) return;
    if (this.flushMs > 0) clearTimeout(t as NodeJS.Timeout);
    else clearImmediate(t as NodeJS.Immediate);
  }

  private retryLater(): false {
    this.retryMs = Math.min(LOG_FLUSH_MS, this.retryMs === 0 ? RETRY_MIN_MS : this.retryMs * 2);
    if (this.retry === undefined) this.retry = setTimeout(this.onRetry, this.retryMs).unref();
    return false;
  }

  private goneAway(): void {
    this.gone = true;
    this.pending = undefined;
    this.lines = [];
    this.chars = 0;
  }

  private settle(err?: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const done of waiters) process.nextTick(done, err);
  }
}

/** Blocks the thread (flushSync only, waiting for a full pipe: there is no event loop to wait on at exit). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A pipe or socket on stdout/stderr gets libuv's non-blocking mode, as Node gives it on first use. */
function makeStdioNonBlocking(fd: number): void {
  const st = fstatSync(fd);
  if (!st.isFIFO() && !st.isSocket()) return;
  if (fd === 1) void process.stdout;
  else if (fd === 2) void process.stderr;
}

export function logDestination(target: { fd: number } | { dest: string }, options: LogDestinationOptions = {}): LogDestination {
  const exitStallMs = options.exitStallMs ?? EXIT_STALL_MS;
  const flushMs = options.flushMs ?? LOG_FLUSH_MS;
  if ('fd' in target) {
    makeStdioNonBlocking(target.fd);
    return new LogDestination(target.fd, false, exitStallMs, flushMs);
  }
  return new LogDestination(openSync(target.dest, 'a'), true, exitStallMs, flushMs);
}

let stderr: LogDestination | undefined;

/**
 * The one destination on stderr that every logger of this process without its own
 * shares (lokid's, the CLI's): lines at the end of each turn, one exit hook, and one
 * order for all of them.
 */
export function stderrLogDestination(): LogDestination {
  stderr ??= logDestination({ fd: 2 }, { flushMs: 0 });
  return stderr;
}
