// How fast the gateway may write into the audit log (AuditService.Record). The
// gateway is unprivileged and may be compromised; its reports carry no end-user
// credential, so nothing else bounds them. Unbounded, a raw client on
// gateway.sock wrote 1,100–3,640 entries/s (0.4–1.4 MiB/s; 15.8 MiB/s with 8 KiB
// details): enough to fill the audit disk, after which every audited action —
// the local admin's included — is refused. The honest gateway folds its floods
// into counted entries and peaked at 484 records/s (one second; ~310/s over 30 s)
// under an auth-failure flood from 50,000 addresses; it retries a refusal with a
// short pause, so a record refused here is delayed, not lost.
//
// A token bucket: `audit.gateway_records_per_second` refill, `audit.gateway_records_burst`
// depth. A record costs 1, plus 1 per whole KiB of its resource, reason and details, so
// the bound is on bytes as well as entries (the honest gateway's records are < 1 KiB).
// Refusals are counted and lokid records one `audit.gateway_throttle` entry per window
// saying how many it refused, so the operator sees a gateway over its bound.
import { LokiError, type Logger } from '../../../common/src/index.js';
import { LIMITS } from './format.js';
import type { AuditEventInput } from './types.js';

export const GATEWAY_THROTTLE_ACTION = 'audit.gateway_throttle';

/** UTF-8 bytes per UTF-16 code unit, at most (3; a 4-byte character is 2 units): resource and reason are limited in units. */
const MAX_UTF8 = 3;

/** The largest cost of one record (its fields at the log's limits): the burst must hold it. */
export const MAX_RECORD_COST = 1 + Math.floor(((LIMITS.resource + LIMITS.reason) * MAX_UTF8 + LIMITS.detailsBytes) / 1024);

export interface GatewayRecordBudgetOptions {
  perSecond: number;
  burst: number;
  /** Writes lokid's own entry about refused records (not itself bounded). */
  record: (event: AuditEventInput) => Promise<void>;
  log: Logger;
  now?: () => number;
  /** One `audit.gateway_throttle` entry per window at most (default 10 s). */
  windowMs?: number;
}

/** What the gateway asks to write, sized as the log will keep it. */
export interface RecordSize {
  action: string;
  resource: string;
  reason: string;
  detailsJson: string;
}

interface Window {
  start: number;
  refused: number;
  byAction: Map<string, number>;
  firstAt: number;
  lastAt: number;
  timer: NodeJS.Timeout;
}

/** 1, plus 1 per whole KiB the record's text takes on disk (UTF-8: up to 3 bytes per character the limits count). */
export function recordCost(r: RecordSize): number {
  const utf8 = (s: string, max: number) => Buffer.byteLength(s.length > max ? s.slice(0, max) : s);
  const bytes = utf8(r.resource, LIMITS.resource) + utf8(r.reason, LIMITS.reason) + Math.min(Buffer.byteLength(r.detailsJson), LIMITS.detailsBytes);
  return 1 + Math.floor(bytes / 1024);
}

export class GatewayRecordBudget {
  private readonly opts: GatewayRecordBudgetOptions;
  private readonly now: () => number;
  private readonly windowMs: number;
  private tokens: number;
  private refilledAt: number;
  private window: Window | undefined;
  private writing: Promise<void> = Promise.resolve();
  private total = 0;

  constructor(opts: GatewayRecordBudgetOptions) {
    if (!Number.isInteger(opts.perSecond) || opts.perSecond < 1) throw new Error('GatewayRecordBudget needs a positive integer perSecond');
    if (!Number.isInteger(opts.burst) || opts.burst < MAX_RECORD_COST) throw new Error(`GatewayRecordBudget needs an integer burst of at least ${MAX_RECORD_COST}`);
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.windowMs = opts.windowMs ?? 10_000;
    this.tokens = opts.burst;
    this.refilledAt = this.now();
  }

  /**
   * Takes the record's cost from the bucket, or throws resource_exhausted (counted for
   * the window's `audit.gateway_throttle` entry). Nothing is written for a refused record.
   */
  take(r: RecordSize): void {
    const now = this.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.refilledAt) * this.opts.perSecond) / 1000);
    this.refilledAt = now;
    const cost = recordCost(r);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return;
    }
    this.count(r.action, now);
    throw new LokiError(
      'resource_exhausted',
      `the gateway is recording audit events faster than audit.gateway_records_per_second = ${this.opts.perSecond} (burst audit.gateway_records_burst = ${this.opts.burst}) allows; this record was not written: retry it later`,
    );
  }

  /** Records refused since start (tests, diagnostics). */
  refused(): number {
    return this.total;
  }

  /** Writes the open window's entry now (shutdown); resolves once it is written. */
  async flush(): Promise<void> {
    if (this.window) this.close(this.window);
    await this.writing;
  }

  private count(action: string, now: number): void {
    this.total += 1;
    let w = this.window;
    if (!w) {
      const timer = setTimeout(() => this.window && this.close(this.window), this.windowMs);
      timer.unref();
      w = this.window = { start: now, refused: 0, byAction: new Map(), firstAt: now, lastAt: now, timer };
      this.opts.log.warn(
        { per_second: this.opts.perSecond, burst: this.opts.burst },
        'the gateway is recording audit events faster than audit.gateway_records_per_second allows; refusing the excess (an honest gateway retries them; a steady excess means a flood or a compromised gateway)',
      );
    }
    w.refused += 1;
    w.lastAt = now;
    // Only GATEWAY_ACTIONS reach here, so this map stays small.
    w.byAction.set(action, (w.byAction.get(action) ?? 0) + 1);
  }

  private close(w: Window): void {
    clearTimeout(w.timer);
    this.window = undefined;
    const entry: AuditEventInput = {
      action: GATEWAY_THROTTLE_ACTION,
      user: 'system',
      resource: 'audit:gateway',
      result: 'denied',
      reason: `gateway over audit.gateway_records_per_second = ${this.opts.perSecond} (burst ${this.opts.burst})`,
      details: {
        aggregated: true,
        count: w.refused,
        by_action: Object.fromEntries(w.byAction),
        first_at: new Date(w.firstAt).toISOString(),
        last_at: new Date(w.lastAt).toISOString(),
        window_s: Math.max(1, Math.round(this.windowMs / 1000)),
        per_second: this.opts.perSecond,
        burst: this.opts.burst,
      },
    };
    this.writing = this.writing.then(() =>
      this.opts.record(entry).catch((err: unknown) => this.opts.log.error({ err, refused: w.refused }, 'could not record the audit.gateway_throttle entry')),
    );
  }
}
