// The file sink: JSON Lines, one file per UTC day, HMAC-chained, group commit.
//
// Durability contract: record() resolves only after the entry's bytes have been
// written and fdatasync'd. Entries that arrive while a batch is being synced
// wait and go out together in the next batch (one write + one fdatasync per
// batch), which is what keeps throughput high without weakening the contract;
// an entry that finds the writer idle is written at once (natural group commit).
// A crash can leave at most one unterminated line at the end of the newest
// file; it was never acknowledged, and open() truncates it away.
import { open, type FileHandle } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { fsyncDir } from './files.js';
import {
  GENESIS_PREV,
  entryLine,
  fileNameForDay,
  signEntry,
  utcDay,
  validateEvent,
  type AuditEntry,
  type ValidatedEvent,
} from './format.js';
import { compressPastDays, enforceRetention, recoverTail } from './maintenance.js';
import type { AuditEventInput, AuditLog } from './types.js';
import { join } from 'node:path';

export interface FileAuditLogOptions {
  /** `$LOKI_HOME/dashboard/audit`. */
  dir: string;
  /** 32-byte HMAC key (see loadOrCreateKey). */
  key: Buffer;
  log: Logger;
  /** Injected clock (ms since epoch); tests move days without waiting. */
  now?: () => number;
  /**
   * How long the first entry of an idle period waits for company before its
   * batch is written. 0 (the default): it is written at once, and what arrives
   * while a batch is being written and synced forms the next batch.
   */
  maxBatchDelayMs?: number;
  retentionDays?: number;
  /** How often compression/retention runs besides at open and on day change (0 = only then). */
  maintenanceIntervalMs?: number;
}

export interface AuditSinkStats {
  written: number;
  batches: number;
  failed: number;
}

interface Pending {
  ev: ValidatedEvent;
  ts: number;
  resolve: (e: AuditEntry) => void;
  reject: (err: unknown) => void;
}

export type AuditListener = (entries: readonly AuditEntry[]) => void;

const DAY_MS = 86_400_000;

export class FileAuditLog implements AuditLog {
  readonly dir: string;
  private readonly key: Buffer;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly delayMs: number;
  readonly retentionDays: number;
  private queue: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private fh: FileHandle | undefined;
  private fhDay = '';
  private fhSize = 0;
  private lastSeq = 0;
  private lastMac = GENESIS_PREV;
  private lastFile = '';
  private readonly listeners = new Set<AuditListener>();
  private maintaining: Promise<void> | undefined;
  private maintainAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly counters: AuditSinkStats = { written: 0, batches: 0, failed: 0 };

  private constructor(opts: FileAuditLogOptions) {
    this.dir = opts.dir;
    this.key = opts.key;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.delayMs = opts.maxBatchDelayMs ?? 0;
    this.retentionDays = opts.retentionDays ?? 30;
  }

  /** Opens the log: recovers the tail (truncating a torn last line) and continues seq/prev from it. */
  static async open(opts: FileAuditLogOptions): Promise<FileAuditLog> {
    if (opts.key.length !== 32) throw new LokiError('internal', 'audit key must be 32 bytes');
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const sink = new FileAuditLog(opts);
    const tail = await recoverTail(opts.dir, opts.key, opts.log);
    if (tail) {
      sink.lastSeq = tail.entry.seq;
      sink.lastMac = tail.entry.mac;
      sink.lastFile = tail.fileBase;
    }
    if (tail?.appendable) {
      sink.fh = await open(join(opts.dir, tail.fileBase), 'a', 0o600);
      sink.fhDay = tail.day;
      sink.fhSize = (await sink.fh.stat()).size;
    }
    sink.runMaintenance();
    const every = opts.maintenanceIntervalMs ?? 3_600_000;
    if (every > 0) {
      sink.timer = setInterval(() => sink.runMaintenance(), every);
      sink.timer.unref();
    }
    return sink;
  }

  async record(event: AuditEventInput): Promise<void> {
    await this.append(event);
  }

  /** Like record(), but resolves with the entry as written (seq, mac). */
  append(event: AuditEventInput): Promise<AuditEntry> {
    let ev: ValidatedEvent;
    try {
      ev = validateEvent(event);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new LokiError('unavailable', 'the audit log is closed'));
    return new Promise<AuditEntry>((resolve, reject) => {
      this.queue.push({ ev, ts: this.now(), resolve, reject });
      this.kick();
    });
  }

  /** Called with every batch once it is durable (tail --follow, SIEM forwarding). */
  subscribe(fn: AuditListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stats(): AuditSinkStats {
    return { ...this.counters };
  }

  /** The chain head: seq and MAC of the newest durable entry. */
  head(): { seq: number; mac: string } {
    return { seq: this.lastSeq, mac: this.lastMac };
  }

  /** Compress past days and apply retention now (also runs at open, on day change and hourly). */
  maintain(): Promise<void> {
    if (this.maintaining) {
      // A request during a run (e.g. the day changed mid-run) gets one more pass afterwards.
      this.maintainAgain = true;
      return this.maintaining;
    }
    this.maintaining = (async () => {
      try {
        do {
          this.maintainAgain = false;
          await this.doMaintain();
        } while (this.maintainAgain && !this.closed);
      } finally {
        this.maintaining = undefined;
      }
    })();
    return this.maintaining;
  }

  /** Flushes everything queued, then closes the file. Later record() calls fail with `unavailable`. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    while (this.flushing || this.queue.length) {
      if (!this.flushing) this.flushing = this.flush();
      await this.flushing;
    }
    await this.maintaining?.catch(() => {});
    await this.fh?.close();
    this.fh = undefined;
  }

  private runMaintenance(): void {
    this.maintain().catch((err: unknown) => this.log.error({ err }, 'audit maintenance failed'));
  }

  private kick(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    const start = () => {
      this.scheduled = false;
      if (!this.flushing) this.flushing = this.flush();
    };
    // Natural group commit: an entry that finds the writer idle goes out at once
    // (a microtask, so entries recorded in the same synchronous run share the
    // batch); batching comes from what queues up while a write + fdatasync runs,
    // so an idle log adds no latency and a flooded one still writes big batches.
    if (this.delayMs > 0) setTimeout(start, this.delayMs);
    else queueMicrotask(start);
  }

  private async flush(): Promise<void> {
    try {
      // Entries that queue up while one batch syncs form the next batch.
      while (this.queue.length) {
        const batch = this.queue;
        this.queue = [];
        await this.writeBatch(batch);
        // Let the writers just acknowledged queue their next entries, so they
        // join this flush cycle instead of paying the idle delay again.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let i = 0;
    let rotated = false;
    while (i < batch.length) {
      // A clock stepping backwards never reopens an older (possibly compressed) file.
      const first = utcDay(batch[i]!.ts);
      const day = this.fh && first < this.fhDay ? this.fhDay : first;
      let j = i;
      while (j < batch.length && utcDay(batch[j]!.ts) <= day) j++;
      const group = batch.slice(i, j);
      i = j;
      try {
        if (!this.fh || day !== this.fhDay) {
          await this.openDay(day);
          rotated = true;
        }
        const entries = await this.writeGroup(group);
        group.forEach((p, k) => p.resolve(entries[k]!));
        this.notify(entries);
      } catch (err) {
        this.counters.failed += group.length;
        this.log.error({ err, entries: group.length }, 'audit write failed; events not acknowledged');
        const le = new LokiError('unavailable', 'the audit log could not be written', { cause: err });
        for (const p of group) p.reject(le);
      }
    }
    if (rotated) this.runMaintenance();
  }

  private async openDay(day: string): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    const fh = await open(join(this.dir, fileNameForDay(day)), 'a', 0o600);
    // The new directory entry must be durable before entries in it are acknowledged.
    fsyncDir(this.dir);
    this.fh = fh;
    this.fhDay = day;
    this.fhSize = (await fh.stat()).size;
  }

  private async writeGroup(group: Pending[]): Promise<AuditEntry[]> {
    const fh = this.fh!;
    const base = fileNameForDay(this.fhDay);
    let seq = this.lastSeq;
    let prev = this.lastMac;
    let prevFile = this.lastFile;
    const entries: AuditEntry[] = [];
    for (const p of group) {
      seq++;
      const entry = signEntry(this.key, {
        timestamp: new Date(p.ts).toISOString(),
        ...p.ev,
        seq,
        prev,
        ...(prevFile !== base ? { prev_file: prevFile } : {}),
      });
      entries.push(entry);
      prev = entry.mac;
      prevFile = base;
    }
    const buf = Buffer.from(entries.map(entryLine).join(''));
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      await fh.datasync();
    } catch (err) {
      // Put the file back as it was so the next batch continues a clean chain.
      await fh.truncate(this.fhSize).catch(() => {});
      throw err;
    }
    this.fhSize += buf.length;
    this.lastSeq = seq;
    this.lastMac = prev;
    this.lastFile = base;
    this.counters.written += entries.length;
    this.counters.batches++;
    return entries;
  }

  private notify(entries: readonly AuditEntry[]): void {
    for (const fn of this.listeners) {
      try {
        fn(entries);
      } catch (err) {
        this.log.warn({ err }, 'audit listener failed');
      }
    }
  }

  private async doMaintain(): Promise<void> {
    const today = utcDay(this.now());
    const openDay = this.fh ? this.fhDay : today;
    await compressPastDays(this.dir, openDay < today ? openDay : today, this.log);
    const cutoff = utcDay(this.now() - this.retentionDays * DAY_MS);
    await enforceRetention({
      dir: this.dir,
      cutoffDay: cutoff,
      keepDay: this.lastFile ? this.lastFile.slice(6, 16) : today,
      log: this.log,
      writeCheckpoint: (details) =>
        this.append({ action: 'audit.checkpoint', user: 'system', resource: 'audit:retention', result: 'success', details }).then(() => {}),
      retentionDays: this.retentionDays,
    });
  }
}
