// The sessions' event log as the rest of the feature sees it: appends and state
// transitions go to the SessionRepo (one transaction each: the change and its
// event), then wake whoever follows the log. `version` lets a follower check
// whether it missed a wake-up between reading the log and starting to wait.
import type { EventEmitter } from 'node:events';
import type { Logger } from '../../../common/src/index.js';
import type { CounterUpdate, SessionRepo } from './repo.js';
import type { Session, SessionEvent, SessionState } from './types.js';

export interface SessionEventLogOptions {
  store: SessionRepo;
  emitter: EventEmitter;
  log: Logger;
  clock: () => number;
}

export class SessionEventLog {
  /** Bumped on every stored event; followers compare it to avoid missing a wake-up. */
  version = 0;
  private readonly stalledSet = new Set<string>();

  constructor(private readonly o: SessionEventLogOptions) {
    o.emitter.setMaxListeners(0);
  }

  notify(): void {
    this.version++;
    this.o.emitter.emit('change');
  }

  // Followers are woken only after the write has resolved: what they read then includes it.
  async append(id: string, type: string, message: string, data: Record<string, unknown> = {}, opts: { counters?: CounterUpdate; markStalled?: boolean } = {}): Promise<SessionEvent> {
    const ev = await this.o.store.append(id, type, message, data, opts.counters ?? {});
    if (opts.markStalled) this.stalledSet.add(id);
    else this.stalledSet.delete(id);
    this.notify();
    return ev;
  }

  /** The repository's compare-and-set: the event, or undefined when the session was not in `from`; callers act on this, not on an earlier read. */
  async transition(id: string, from: readonly SessionState[], to: SessionState, message: string, extra: { reason?: string; data?: Record<string, unknown> } = {}): Promise<SessionEvent | undefined> {
    const ev = await this.o.store.transition(id, from, to, message, extra);
    if (ev) {
      this.stalledSet.delete(id);
      this.o.log.info({ session_id: id, from: ev.data.from, state: to }, 'session state');
      this.notify();
    }
    return ev;
  }

  /** True while the last event of the session is the stall notice (no new activity since). */
  stalled(id: string): boolean {
    return this.stalledSet.has(id);
  }

  /** Resolves once `version` moves past `seen`, the signal aborts, or `maxMs` passes. */
  waitForChange(seen: number, signal: AbortSignal, maxMs: number): Promise<void> {
    if (this.version !== seen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.o.emitter.off('change', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, maxMs);
      this.o.emitter.on('change', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Resolves once the stored session satisfies `pred` (or is gone), or after `maxMs`. */
  async waitFor(id: string, pred: (s: Session) => boolean, maxMs: number): Promise<void> {
    const until = this.o.clock() + maxMs;
    const ac = new AbortController();
    while (this.o.clock() < until) {
      const v = this.version;
      const s = await this.o.store.get(id);
      if (!s || pred(s)) return;
      await this.waitForChange(v, ac.signal, Math.max(1, until - this.o.clock()));
    }
  }
}
