// Per-session timers: one pending timer per session (stop grace, restart
// re-arm) and the single-flight guard that makes ending a session from several
// places (stop, runner finished, supervisor, limits) converge on one run.
export class SessionTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ending = new Map<string, Promise<void>>();

  /** Runs `fn` after `ms` unless the session already has a timer or is ended first (`once`). */
  schedule(id: string, ms: number, fn: () => void): void {
    if (this.timers.has(id)) return;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    t.unref();
    this.timers.set(id, t);
  }

  /** Runs `fn` at most once per session at a time, cancelling its pending timer. */
  once(id: string, fn: () => Promise<void>): Promise<void> {
    const running = this.ending.get(id);
    if (running) return running;
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
    const p = fn().finally(() => this.ending.delete(id));
    this.ending.set(id, p);
    return p;
  }

  finishing(id: string): boolean {
    return this.ending.has(id);
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
