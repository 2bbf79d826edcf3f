// A grpc-js server stream as an AsyncIterable: back-pressure (the call is
// paused while the consumer is behind), cancellation when the consumer leaves
// the loop or aborts, and errors decoded into LokiErrors. Our own cancel is
// not an error anyone needs to see.
import type { ClientReadableStream } from '@grpc/grpc-js';
import { GRPC_STATUS, type LokiError } from '../../../common/src/index.js';

const HIGH_WATER = 256;

export function iterateStream<M, T>(
  open: () => ClientReadableStream<M>,
  map: (m: M) => T | undefined,
  decode: (err: unknown) => LokiError,
  signal?: AbortSignal,
): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const queue: T[] = [];
      let done = false;
      let failure: LokiError | undefined;
      let wake: (() => void) | undefined;
      let paused = false;
      const call = open();
      const notify = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      const onAbort = () => {
        done = true;
        call.cancel();
        notify();
      };
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (m: M) => {
        const v = map(m);
        if (v === undefined) return;
        queue.push(v);
        if (queue.length >= HIGH_WATER && !paused) {
          paused = true;
          call.pause();
        }
        notify();
      });
      call.on('end', () => {
        done = true;
        notify();
      });
      call.on('error', (err: { code?: number }) => {
        if (err.code !== GRPC_STATUS.CANCELLED) failure = decode(err);
        done = true;
        notify();
      });
      const finish = () => {
        signal?.removeEventListener('abort', onAbort);
        if (!done) {
          done = true;
          call.cancel();
        }
      };
      return {
        async next(): Promise<IteratorResult<T>> {
          for (;;) {
            if (queue.length) {
              const value = queue.shift()!;
              if (paused && queue.length < HIGH_WATER / 2) {
                paused = false;
                call.resume();
              }
              return { value, done: false };
            }
            if (failure) {
              const f = failure;
              failure = undefined;
              finish();
              throw f;
            }
            if (done) {
              finish();
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => (wake = r));
          }
        },
        async return(): Promise<IteratorResult<T>> {
          finish();
          return { value: undefined, done: true };
        },
      };
    },
  };
}
