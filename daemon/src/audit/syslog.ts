// Forwards audit entries to a SIEM as RFC 5424 syslog over UDP, TCP (RFC 6587
// octet counting) or TCP+TLS (RFC 5425). It never blocks or fails a local
// write: entries go into a bounded queue, a slow or absent collector only
// makes the queue fill, and overflow is counted in `dropped`.
//
// The gateway's reports (AuditService.Record: auth failures, rate-limit
// rejections, …) are entries whose volume the gateway chooses, and a
// compromised gateway can send them as fast as lokid writes. So on a full queue
// they are what is dropped: a daemon entry (a token minted, a session started,
// an approval decided) takes the place of the oldest queued gateway report, and
// a flood of reports cannot push the daemon's own entries out of the SIEM feed.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from '../../../common/src/index.js';
import { canonicalJson, type AuditEntry } from './format.js';
import { isGatewayReport } from './gateway-reports.js';

export type SyslogProtocol = 'udp' | 'tcp' | 'tls';

export interface SyslogForwarderOptions {
  host: string;
  port: number;
  protocol: SyslogProtocol;
  /** PEM CA bundle to trust for TLS (default: the system store). */
  caFile?: string;
  /** Facility number 0..23 (default 13, "log audit"). */
  facility?: number;
  appName?: string;
  log: Logger;
  maxQueue?: number;
  /** Local hostname written into each message (default os.hostname()). */
  hostname?: string;
}

export interface SyslogStats {
  sent: number;
  dropped: number;
  queued: number;
}

/** IANA "example" private enterprise number (RFC 5612), used for the structured-data ID. */
const SD_ID = 'loki@32473';
// RFC 5424 caps UDP payloads in practice; keep a datagram well under 64 KiB.
const MAX_UDP = 60_000;

function sdEscape(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

function headerField(v: string, max: number): string {
  const s = v.replace(/[^\x21-\x7e]/g, '');
  return s === '' ? '-' : s.slice(0, max);
}

function severityOf(e: AuditEntry): number {
  if (e.result === 'error') return 3; // err
  if (e.result === 'denied') return 4; // warning
  return 6; // info
}

/** One RFC 5424 message: header, a structured-data element with the key fields, and the signed entry as the (UTF-8, BOM) MSG. */
export function formatRfc5424(e: AuditEntry, opts: { facility: number; appName: string; hostname: string; procId?: string }): string {
  const pri = opts.facility * 8 + severityOf(e);
  const params: [string, string][] = [
    ['seq', String(e.seq)],
    ['action', e.action],
    ['user', e.user],
    ['result', e.result],
    ['resource', e.resource],
    ['ip', e.ip],
    ['request_id', e.request_id],
    ['mac', e.mac],
  ];
  const sd = `[${SD_ID} ${params
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}="${sdEscape(v)}"`)
    .join(' ')}]`;
  const header = [
    `<${pri}>1`,
    e.timestamp,
    headerField(opts.hostname, 255),
    headerField(opts.appName, 48),
    headerField(opts.procId ?? String(process.pid), 128),
    headerField(e.action, 32),
  ].join(' ');
  return `${header} ${sd} \uFEFF${canonicalJson(e)}`;
}

export class SyslogForwarder {
  private readonly opts: SyslogForwarderOptions;
  private readonly queue: { msg: Buffer; report: boolean }[] = [];
  private readonly counters = { sent: 0, dropped: 0 };
  private udp: UdpSocket | undefined;
  private sock: Socket | undefined;
  private connecting = false;
  private writing = false;
  private closed = false;
  private backoffMs = 500;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly ca: Buffer | undefined;

  constructor(opts: SyslogForwarderOptions) {
    this.opts = opts;
    this.ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
  }

  /** Queues entries; returns at once. */
  send(entries: readonly AuditEntry[]): void {
    if (this.closed) return;
    const max = this.opts.maxQueue ?? 10_000;
    for (const e of entries) {
      const report = isGatewayReport(e);
      if (this.queue.length >= max && (report || !this.dropOldestReport())) {
        this.counters.dropped++;
        continue;
      }
      const msg = formatRfc5424(e, {
        facility: this.opts.facility ?? 13,
        appName: this.opts.appName ?? 'lokid',
        hostname: this.opts.hostname ?? hostname(),
      });
      this.queue.push({ msg: Buffer.from(msg, 'utf8'), report });
    }
    this.pump();
  }

  /** Makes room for a daemon entry by dropping the oldest queued gateway report; false when none is queued. */
  private dropOldestReport(): boolean {
    const i = this.queue.findIndex((q) => q.report);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.counters.dropped++;
    return true;
  }

  stats(): SyslogStats {
    return { ...this.counters, queued: this.queue.length };
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.udp?.close();
    this.sock?.end();
    this.sock?.destroy();
  }

  private pump(): void {
    if (this.closed || this.queue.length === 0) return;
    if (this.opts.protocol === 'udp') this.pumpUdp();
    else this.pumpStream();
  }

  private pumpUdp(): void {
    if (!this.udp) {
      this.udp = createSocket(this.opts.host.includes(':') ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.opts.log.warn({ err }, 'syslog UDP socket error'));
      this.udp.unref();
    }
    while (this.queue.length) {
      let msg = this.queue.shift()!.msg;
      if (msg.length > MAX_UDP) msg = msg.subarray(0, MAX_UDP);
      // UDP is fire-and-forget by design; a lost datagram is the SIEM's choice of transport.
      this.udp.send(msg, this.opts.port, this.opts.host, (err) => {
        if (err) this.counters.dropped++;
        else this.counters.sent++;
      });
    }
  }

  private pumpStream(): void {
    if (!this.sock) {
      this.connect();
      return;
    }
    if (this.writing || this.connecting) return;
    this.writing = true;
    const sock = this.sock;
    while (this.queue.length && this.sock === sock) {
      const msg = this.queue.shift()!.msg;
      // RFC 6587 octet counting: "<len> <msg>", len in bytes.
      const ok = sock.write(Buffer.concat([Buffer.from(`${msg.length} `), msg]));
      this.counters.sent++;
      if (!ok) {
        sock.once('drain', () => {
          this.writing = false;
          this.pump();
        });
        return;
      }
    }
    this.writing = false;
  }

  private connect(): void {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    const { host, port } = this.opts;
    const sock: Socket =
      this.opts.protocol === 'tls'
        ? tlsConnect({ host, port, servername: host, ...(this.ca ? { ca: this.ca } : {}) })
        : netConnect({ host, port });
    const onReady = () => {
      this.connecting = false;
      this.backoffMs = 500;
      this.sock = sock;
      this.pump();
    };
    sock.once(this.opts.protocol === 'tls' ? 'secureConnect' : 'connect', onReady);
    sock.on('error', (err) => this.opts.log.warn({ err: err.message, host, port }, 'syslog connection error'));
    sock.on('close', () => {
      this.connecting = false;
      this.writing = false;
      if (this.sock === sock) this.sock = undefined;
      if (this.closed) return;
      this.retryTimer = setTimeout(() => this.pump(), this.backoffMs);
      this.retryTimer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
    sock.unref();
  }
}
