// Giving back the young generation a server's start grew. Startup (compiling
// modules, building routes and schemas) grows V8's young generation to its cap
// (16 MB for the gateway's two 8 MB semi-spaces) and V8 keeps it committed while
// the server idles: V8 shrinks it only at a collection that runs while the
// allocation rate is low, and an idle server allocates too little to cause one.
// So one young-generation collection (a scavenge: a few ms) is asked for once the
// process has been quiet for a while. Under load V8 grows the space again as it
// would have; a trim that lands during load simply shrinks nothing.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = (opts: { type: 'minor'; execution: 'sync' }) => void;

let gcFn: GcFn | null | undefined;

/** Runs one young-generation collection now. Returns false when this V8 offers no way to ask for it. */
export function trimHeap(): boolean {
  if (gcFn === undefined) {
    // Exposes `gc` to new contexts only: the process's own global is unchanged.
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    gcFn = typeof gc === 'function' ? (gc as GcFn) : null;
  }
  if (!gcFn) return false;
  gcFn({ type: 'minor', execution: 'sync' });
  return true;
}

/**
 * Trims at each delay (ms from the call; V8 judges the allocation rate over the
 * last ≈ 5 s, so the first should come that long after startup's allocation ends).
 * Never keeps the process alive.
 */
export function trimHeapWhenSettled(delaysMs: readonly number[] = [8_000, 60_000]): void {
  for (const ms of delaysMs) {
    setTimeout(() => {
      try {
        trimHeap();
      } catch {
        // Memory housekeeping only: a V8 that refuses the flag changes nothing else.
      }
    }, ms).unref();
  }
}
