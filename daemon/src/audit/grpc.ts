// AuditService over gRPC. The gateway records what only it sees (auth
// failures, rate-limit rejections, token use); operators with the `audit`
// scope query, summarise, verify and tail. The adapter converts wire messages
// to domain types here and nowhere else.
import type { Server, ServerWritableStream } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import {
  AuditServiceService,
  type AuditEntry as WireEntry,
  type AuditSummaryResponse,
  type QueryAuditResponse,
  type RecordAuditResponse,
  type TailAuditRequest,
  type VerifyAuditResponse,
} from '../../../proto/gen/loki/v1/audit.js';
import { requireScope, type Caller } from '../authz/caller.js';
import { gatewayReportMarks } from '../authz/call-context.js';
import type { ServiceModule } from '../grpc/module.js';
import { StreamBacklog } from '../grpc/backlog.js';
import { serverStream, unary, writeMessage, type HandlerContext } from '../grpc/wrap.js';
import { AUDIT_RESULTS, type AuditEntry } from './format.js';
import { GATEWAY_ACTIONS, GATEWAY_CONFIG_RESOURCE } from './gateway-reports.js';
import { parseTime, queryAuditLog, summarizeAuditLog, MAX_QUERY_LIMIT } from './query.js';
import type { AuditRuntime } from './runtime.js';
import type { AuditResult } from './types.js';
import { verifyAuditLog } from './verify.js';

export interface AuditModuleDeps {
  runtime: AuditRuntime;
}

export function toWireEntry(e: AuditEntry): WireEntry {
  return {
    timestamp: e.timestamp,
    action: e.action,
    user: e.user,
    resource: e.resource,
    detailsJson: JSON.stringify(e.details ?? {}),
    ip: e.ip,
    result: e.result,
    reason: e.reason ?? '',
    requestId: e.request_id,
    seq: e.seq,
    prev: e.prev,
    mac: e.mac,
    prevFile: e.prev_file ?? '',
  };
}

function parseDetails(json: string): Record<string, unknown> | undefined {
  if (json === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw new LokiError('invalid_argument', 'details_json is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new LokiError('invalid_argument', 'details_json must be a JSON object');
  return v as Record<string, unknown>;
}

function parseResult(v: string): AuditResult | undefined {
  if (v === '') return undefined;
  if (!(AUDIT_RESULTS as readonly string[]).includes(v)) throw new LokiError('invalid_argument', `result must be one of ${AUDIT_RESULTS.join(', ')}`);
  return v as AuditResult;
}

export function createAuditModule(deps: AuditModuleDeps): ServiceModule {
  const rt = deps.runtime;
  const enabled = () => {
    if (!rt.sink || !rt.key) throw new LokiError('failed_precondition', 'audit logging is disabled on this daemon (LOKI_AUDIT_DISABLED=true)');
    return { sink: rt.sink, key: rt.key };
  };

  return {
    name: 'loki.v1.AuditService',
    roles: ['local-admin', 'gateway'],
    register(server: Server, ctx: HandlerContext) {
      server.addService(AuditServiceService, {
        record: unary(ctx, 'AuditService.Record', async (req, caller: Caller): Promise<RecordAuditResponse> => {
          // Only the gateway's door: the identity fields below come from its
          // authenticated metadata, which other roles cannot supply.
          if (caller.role !== 'gateway') throw new LokiError('permission_denied', 'only the gateway records audit events over the API');
          if (!GATEWAY_ACTIONS.has(req.action)) {
            throw new LokiError('permission_denied', `the gateway may not record "${req.action}" (allowed: ${[...GATEWAY_ACTIONS].join(', ')})`);
          }
          // The gateway reports its own config reloads; it must not be able to forge the daemon's.
          if (req.action === 'config.change' && req.resource !== GATEWAY_CONFIG_RESOURCE) {
            throw new LokiError('permission_denied', 'the gateway may record config.change only for resource "config:gateway"');
          }
          const result = parseResult(req.result) ?? 'success';
          const details = parseDetails(req.detailsJson);
          if (!rt.sink) return { seq: 0 };
          // Last check before the write: a compromised gateway must not fill the audit disk
          // (audit/gateway-budget.ts); an honest one retries what is refused here.
          rt.gatewayRecords?.take(req);
          // Without a verified credential the entry is the gateway's own, and the
          // user it names is recorded as its claim, never as the entry's user.
          const claimed = caller.unverified && caller.reportedSubject ? { reported_user: caller.reportedSubject } : {};
          const marks = gatewayReportMarks(caller.clientIp, caller.requestId) ?? {};
          const merged = details || Object.keys(claimed).length || Object.keys(marks).length ? { ...(details ?? {}), ...claimed, ...marks } : undefined;
          const entry = await rt.sink.append({
            action: req.action,
            user: caller.subject,
            resource: req.resource,
            result,
            ip: caller.clientIp,
            request_id: caller.requestId,
            ...(req.reason ? { reason: req.reason } : {}),
            ...(merged ? { details: merged } : {}),
          });
          return { seq: entry.seq };
        }),

        query: unary(ctx, 'AuditService.Query', async (req, caller): Promise<QueryAuditResponse> => {
          requireScope(caller, 'audit');
          enabled();
          const now = rt.now();
          const page = await queryAuditLog(rt.dir, {
            limit: req.limit === 0 ? 100 : req.limit,
            ...(req.action ? { action: req.action } : {}),
            ...(req.user ? { user: req.user } : {}),
            ...(req.result ? { result: parseResult(req.result)! } : {}),
            ...(req.since ? { since: parseTime('since', req.since, now) } : {}),
            ...(req.until ? { until: parseTime('until', req.until, now) } : {}),
            ...(req.cursor ? { cursor: req.cursor } : {}),
          });
          return { entries: page.entries.map(toWireEntry), nextCursor: page.nextCursor ?? 0 };
        }),

        summary: unary(ctx, 'AuditService.Summary', async (req, caller): Promise<AuditSummaryResponse> => {
          requireScope(caller, 'audit');
          enabled();
          const now = rt.now();
          const since = req.since ? parseTime('since', req.since, now) : now - 86_400_000;
          const until = req.until ? parseTime('until', req.until, now) : now + 1;
          const s = await summarizeAuditLog(rt.dir, { since, until });
          return {
            total: s.total,
            byAction: s.byAction,
            byUser: s.byUser,
            byResult: s.byResult,
            since: new Date(since).toISOString(),
            until: new Date(until).toISOString(),
          };
        }),

        verify: unary(ctx, 'AuditService.Verify', async (_req, caller): Promise<VerifyAuditResponse> => {
          requireScope(caller, 'audit');
          const { key } = enabled();
          const r = await verifyAuditLog(rt.dir, key);
          if (r.ok) return { ok: true, entries: r.entries, files: r.files, lastSeq: r.lastSeq, lastMac: r.lastMac, file: '', line: 0, seq: 0, reason: '' };
          return { ok: false, entries: r.entries, files: r.files, lastSeq: 0, lastMac: '', file: r.file, line: r.line, seq: r.seq, reason: r.reason };
        }),

        tail: serverStream(ctx, 'AuditService.Tail', async (req: TailAuditRequest, caller, call: ServerWritableStream<TailAuditRequest, WireEntry>, signal) => {
          requireScope(caller, 'audit');
          const { sink } = enabled();
          const last = req.last === 0 ? 20 : req.last;
          if (!Number.isInteger(last) || last < 1 || last > MAX_QUERY_LIMIT) throw new LokiError('invalid_argument', `last must be between 1 and ${MAX_QUERY_LIMIT}`);
          const wanted = (e: AuditEntry) => !req.action || e.action === req.action;
          // Subscribe before reading history so nothing written in between is missed;
          // entries already sent from history are skipped by seq. A reader that stops
          // reading while anyone floods the log gets its tail ended (grpc/backlog.ts).
          const live = new StreamBacklog<AuditEntry>(
            (max) => `this tail fell more than ${max} entries behind the audit log (its reader is not keeping up) and was ended; tail again, or query what it missed`,
          );
          const unsubscribe = req.follow
            ? sink.subscribe((entries) => {
                for (const e of entries) if (wanted(e)) live.push(e);
              })
            : () => {};
          try {
            const page = await queryAuditLog(rt.dir, { limit: last, ...(req.action ? { action: req.action } : {}) });
            let sentSeq = 0;
            for (const e of page.entries.reverse()) {
              await writeMessage(call, toWireEntry(e), live.signal);
              sentSeq = e.seq;
            }
            if (!req.follow) return;
            for (let e = await live.next(signal); e; e = await live.next(signal)) {
              if (e.seq <= sentSeq) continue;
              await writeMessage(call, toWireEntry(e), live.signal);
              sentSeq = e.seq;
            }
          } finally {
            unsubscribe();
          }
        }),
      });
    },
  };
}
