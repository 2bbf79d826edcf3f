// What a following stream (an audit tail, an approvals watch) holds for its
// reader. Such a stream subscribes to new events and writes them as fast as its
// reader takes them; what the reader has not taken yet waits here. A reader that
// stops reading (a compromised gateway holding a credential) would otherwise make
// lokid keep every new event for it for as long as the stream lives, while
// anyone who can make events (flood the audit log, open approvals) adds to it.
// So a stream whose reader falls more than MAX_STREAM_BACKLOG events behind is
// ended with resource_exhausted; its reader can open it again and catch up from
// the store.
import { LokiError } from '../../../common/src/index.js';

/** New events a following stream may have waiting for its reader before it is ended. */
export const MAX_STREAM_BACKLOG = 1000;

export class StreamBacklog<T> {
  private readonly items: T[] = [];
  private readonly behind = new AbortController();
  private wake: (() => void) | undefined;

  /**
   * `ended(max)`: what the reader is told when its stream is ended, e.g. "this tail fell more
   * than 1000 entries behind …; tail again". `max`: the bound (MAX_STREAM_BACKLOG).
   */
  constructor(
    private readonly ended: (max: number) => string,
    readonly max = MAX_STREAM_BACKLOG,
  ) {}

  /** Aborts (with the resource_exhausted error) once the reader fell behind: give it to writeMessage so a write waiting for that reader ends too. */
  get signal(): AbortSignal {
    return this.behind.signal;
  }

  get length(): number {
    return this.items.length;
  }

  /** Queues one event for the reader; past the bound the queue is dropped and the stream is ended. */
  push(item: T): void {
    if (this.behind.signal.aborted) return;
    this.items.push(item);
    if (this.items.length > this.max) {
      this.items.length = 0;
      this.behind.abort(new LokiError('resource_exhausted', this.ended(this.max)));
    }
    this.wake?.();
  }

  /**
   * The next event, waiting for one; undefined once `signal` aborts (the reader went away).
   * Throws the resource_exhausted error once the reader fell behind.
   */
  async next(signal: AbortSignal): Promise<T | undefined> {
    for (;;) {
      if (this.behind.signal.aborted) throw this.behind.signal.reason;
      if (signal.aborted) return undefined;
      if (this.items.length) return this.items.shift();
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
