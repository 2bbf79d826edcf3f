// Rate-limit counters behind a narrow interface: memory now, Redis later (a
// shared store lets several gateway replicas enforce one limit).

export interface WindowResult {
  allowed: boolean;
  /** Requests still allowed in the current window after this one. */
  remaining: number;
  /** Seconds until the caller may try again (when not allowed) or until the window fully resets. */
  resetSeconds: number;
}

export interface RateLimitStore {
  /**
   * Counts one hit for `key` in a sliding window of `windowMs` unless that would
   * exceed `limit` (rejected hits are not counted, so a throttled client recovers).
   */
  hit(key: string, windowMs: number, limit: number, now: number): Promise<WindowResult>;
  /** `hit` answered at once, for a store that keeps its counters in this process (no promise per request). */
  hitNow?(key: string, windowMs: number, limit: number, now: number): WindowResult;
  /** Current estimate without counting (lockout checks). */
  peek(key: string, windowMs: number, now: number): Promise<number>;
  delete(key: string): Promise<void>;
}

interface Counter {
  windowStart: number;
  prev: number;
  cur: number;
  windowMs: number;
}

export interface MemoryRateLimitStoreOptions {
  /** Hard cap on tracked keys; the oldest entry is evicted beyond it so memory stays bounded. */
  maxEntries: number;
}

/**
 * Sliding-window counter (two fixed windows, the previous one weighted by how
 * much of it still overlaps the sliding window): O(1) memory per key and close
 * to an exact sliding log.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly counters = new Map<string, Counter>();
  private readonly maxEntries: number;
  private lastPrune = 0;

  constructor(opts: MemoryRateLimitStoreOptions) {
    this.maxEntries = opts.maxEntries;
  }

  async hit(key: string, windowMs: number, limit: number, now: number): Promise<WindowResult> {
    return this.hitNow(key, windowMs, limit, now);
  }

  hitNow(key: string, windowMs: number, limit: number, now: number): WindowResult {
    const c = this.counter(key, windowMs, now);
    const elapsed = now - c.windowStart;
    const weight = 1 - elapsed / windowMs;
    const estimate = c.prev * weight + c.cur;
    if (estimate + 1 > limit) {
      return { allowed: false, remaining: 0, resetSeconds: Math.max(1, Math.ceil(this.waitMs(c, limit, elapsed) / 1000)) };
    }
    c.cur += 1;
    return {
      allowed: true,
      remaining: Math.max(0, Math.floor(limit - (estimate + 1))),
      resetSeconds: Math.max(1, Math.ceil((windowMs - elapsed) / 1000)),
    };
  }

  async peek(key: string, windowMs: number, now: number): Promise<number> {
    const c = this.counters.get(key);
    if (!c) return 0;
    this.roll(c, now);
    return c.prev * (1 - (now - c.windowStart) / windowMs) + c.cur;
  }

  async delete(key: string): Promise<void> {
    this.counters.delete(key);
  }

  /** Entries held (the memory bound its tests check; not part of RateLimitStore: a shared store need not count). */
  size(): number {
    return this.counters.size;
  }

  // How long until the weighted previous window has decayed enough to admit one more hit.
  private waitMs(c: Counter, limit: number, elapsed: number): number {
    if (c.cur + 1 > limit || c.prev === 0) return c.windowMs - elapsed;
    const t = ((c.prev + c.cur + 1 - limit) / c.prev) * c.windowMs - elapsed;
    return Math.min(Math.max(t, 1), c.windowMs - elapsed);
  }

  private roll(c: Counter, now: number): void {
    const windows = Math.floor((now - c.windowStart) / c.windowMs);
    if (windows <= 0) return;
    c.prev = windows === 1 ? c.cur : 0;
    c.cur = 0;
    c.windowStart += windows * c.windowMs;
  }

  private counter(key: string, windowMs: number, now: number): Counter {
    let c = this.counters.get(key);
    if (c && c.windowMs === windowMs) {
      this.roll(c, now);
      return c;
    }
    if (!c && this.counters.size >= this.maxEntries) this.makeRoom(now);
    c = { windowStart: now, prev: 0, cur: 0, windowMs };
    this.counters.set(key, c);
    return c;
  }

  // Idle keys (nothing in either window) are dropped first; if the map is still
  // full, the oldest inserted key goes. An attacker cycling keys can at worst
  // reset other keys' counters, never grow memory.
  private makeRoom(now: number): void {
    if (now - this.lastPrune > 1000) {
      this.lastPrune = now;
      for (const [k, c] of this.counters) {
        if (now - c.windowStart >= 2 * c.windowMs) this.counters.delete(k);
      }
    }
    while (this.counters.size >= this.maxEntries) {
      const oldest = this.counters.keys().next();
      if (oldest.done) break;
      this.counters.delete(oldest.value);
    }
  }

  /** Drops every idle key now (makeRoom does the same lazily when the map is full). */
  prune(now: number): void {
    for (const [k, c] of this.counters) {
      if (now - c.windowStart >= 2 * c.windowMs) this.counters.delete(k);
    }
  }
}
