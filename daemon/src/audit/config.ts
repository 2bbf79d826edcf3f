// The `audit` section of the daemon config and its LOKI_* environment bindings.
import { z } from 'zod';
import type { EnvBinding } from '../../../common/src/index.js';
import { MAX_RECORD_COST } from './gateway-budget.js';

export const auditSyslogSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(514),
    protocol: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    ca_file: z.string().min(1).optional(),
    /** 13 = "log audit" (RFC 5424 table 1). */
    facility: z.number().int().min(0).max(23).default(13),
    app_name: z.string().regex(/^[\x21-\x7e]{1,48}$/, 'printable ASCII, at most 48 characters').default('lokid'),
    /** Entries held while the collector is slow or away; beyond it, gateway reports are dropped first, then new entries. */
    max_queue: z.number().int().min(1).max(1_000_000).default(10_000),
  })
  .strict();

export const auditConfigSchema = z
  .object({
    /** LOKI_AUDIT_DISABLED=true turns the audit log off (logged at warn on startup). */
    disabled: z.boolean().default(false),
    retention_days: z.number().int().min(1).max(3650).default(30),
    /**
     * How long an entry that finds the writer idle waits for others before its
     * batch is written and fsync'd. 0 (default): at once; entries arriving during
     * a write form the next batch either way.
     */
    max_batch_delay_ms: z.number().int().min(0).max(100).default(0),
    syslog: auditSyslogSchema.optional(),
    /**
     * How fast the gateway may write audit entries (AuditService.Record), refilled per
     * second; a record costs 1 plus 1 per whole KiB of its resource, reason and details.
     * Over it lokid refuses with resource_exhausted and writes nothing; the gateway
     * retries. The honest gateway peaked at 484/s (in one second; ~310/s over 30 s) under
     * an auth-failure flood from 50,000 addresses, which its per-address counting cannot fold.
     */
    gateway_records_per_second: z.number().int().min(1).max(100_000).default(500),
    /** What the gateway may write at once above the rate (the bucket's depth); must hold the largest record. */
    gateway_records_burst: z
      .number()
      .int()
      .min(MAX_RECORD_COST, `must be at least ${MAX_RECORD_COST} (one record at the log's field limits costs that much)`)
      .max(10_000_000)
      .default(5000),
  })
  .strict()
  .prefault({});

export type AuditConfig = z.infer<typeof auditConfigSchema>;

export const auditEnvBindings: EnvBinding[] = [
  { env: 'LOKI_AUDIT_DISABLED', path: 'audit.disabled', type: 'bool' },
  { env: 'LOKI_AUDIT_RETENTION_DAYS', path: 'audit.retention_days', type: 'int' },
  { env: 'LOKI_AUDIT_SYSLOG_HOST', path: 'audit.syslog.host', type: 'string' },
  { env: 'LOKI_AUDIT_SYSLOG_PORT', path: 'audit.syslog.port', type: 'int' },
  { env: 'LOKI_AUDIT_SYSLOG_PROTOCOL', path: 'audit.syslog.protocol', type: 'string' },
  { env: 'LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND', path: 'audit.gateway_records_per_second', type: 'int' },
  { env: 'LOKI_AUDIT_GATEWAY_RECORDS_BURST', path: 'audit.gateway_records_burst', type: 'int' },
];
