// Builds the daemon's audit log from config: the file sink (+ SIEM forwarder)
// or, when LOKI_AUDIT_DISABLED=true, a sink that records nothing — and says so
// loudly at startup, since an operator should never be surprised by it.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { runtimePaths, type DeepReadonly, type Logger } from '../../../common/src/index.js';
import type { AuditConfig } from './config.js';
import { loadOrCreateKey } from './files.js';
import { fitEvent } from './format.js';
import { GatewayRecordBudget } from './gateway-budget.js';
import { FileAuditLog } from './sink.js';
import { SyslogForwarder } from './syslog.js';
import { NOOP_AUDIT, type AuditLog } from './types.js';
import { gatewayReportMarks } from '../authz/call-context.js';

export interface AuditRuntimeOptions {
  config: DeepReadonly<AuditConfig>;
  /** `$LOKI_HOME`: the log goes to `dashboard/audit/`, the key to `state/audit.key`. */
  home: string;
  log: Logger;
  now?: () => number;
}

export interface AuditRuntime {
  /** Hand this to every feature that emits events. */
  audit: AuditLog;
  /** The file sink; undefined when audit is disabled. */
  sink: FileAuditLog | undefined;
  forwarder: SyslogForwarder | undefined;
  /** The bound on what the gateway may record (audit.gateway_records_*); undefined when disabled. */
  gatewayRecords: GatewayRecordBudget | undefined;
  dir: string;
  /** HMAC key; undefined when disabled. */
  key: Buffer | undefined;
  now: () => number;
  /** Flushes queued entries and closes files and sockets. */
  close(): Promise<void>;
}

export async function createAuditRuntime(opts: AuditRuntimeOptions): Promise<AuditRuntime> {
  const log = opts.log.child({ component: 'audit' });
  const paths = runtimePaths(opts.home);
  const now = opts.now ?? Date.now;
  if (opts.config.disabled) {
    log.warn('audit logging is DISABLED (LOKI_AUDIT_DISABLED=true): no audit entries will be written');
    return { audit: NOOP_AUDIT, sink: undefined, forwarder: undefined, gatewayRecords: undefined, dir: paths.auditDir, key: undefined, now, close: async () => {} };
  }
  const key = loadOrCreateKey(join(paths.stateDir, 'audit.key'), log);
  const sink = await FileAuditLog.open({
    dir: paths.auditDir,
    key,
    log,
    now,
    maxBatchDelayMs: opts.config.max_batch_delay_ms,
    retentionDays: opts.config.retention_days,
  });
  let forwarder: SyslogForwarder | undefined;
  const s = opts.config.syslog;
  if (s) {
    forwarder = new SyslogForwarder({
      host: s.host,
      port: s.port,
      protocol: s.protocol,
      facility: s.facility,
      appName: s.app_name,
      maxQueue: s.max_queue,
      log,
      ...(s.ca_file ? { caFile: s.ca_file } : {}),
    });
    const fwd = forwarder;
    sink.subscribe((entries) => fwd.send(entries));
    log.info({ host: s.host, port: s.port, protocol: s.protocol }, 'forwarding audit entries to syslog');
  }
  // lokid's own entry about refused gateway records goes straight to the sink: it is not the gateway's to spend.
  const gatewayRecords = new GatewayRecordBudget({
    perSecond: opts.config.gateway_records_per_second,
    burst: opts.config.gateway_records_burst,
    record: (e) => sink.record(e),
    log,
    now,
  });
  log.info({ dir: paths.auditDir, retention_days: opts.config.retention_days }, 'audit log enabled');
  // Every audited action fails closed while the log cannot be written: say so now, not at the first refusal.
  try {
    accessSync(paths.auditDir, constants.W_OK);
  } catch (err) {
    log.error(
      { dir: paths.auditDir, code: (err as NodeJS.ErrnoException).code },
      'the audit directory is not writable: every audited action (sessions, approvals, tokens, sandboxes) will be refused until it is',
    );
  }
  // Entries written while serving a gateway call say which fields are the gateway's report.
  const audit: AuditLog = {
    record: (event) => {
      const marks = gatewayReportMarks(event.ip, event.request_id);
      if (!marks) return sink.record(event);
      // Fitted again with the marks in: they must never be what pushes an entry past the
      // details limit, which would refuse it after the action (details the caller or an
      // agent filled to just under 8 KiB, then an approval or a revoke left unaudited).
      return sink.record(fitEvent({ ...event, details: { ...(event.details ?? {}), ...marks } }));
    },
  };
  return {
    audit,
    sink,
    forwarder,
    gatewayRecords,
    dir: paths.auditDir,
    key,
    now,
    close: async () => {
      await gatewayRecords.flush();
      await sink.close();
      forwarder?.close();
    },
  };
}
