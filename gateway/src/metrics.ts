// Prometheus metrics for one gateway instance: a registry per app (never the
// global default one, so tests and several apps in one process do not collide).
// Route labels are templates (`/api/sessions/:id`), unknown routes are
// `unmatched`, methods outside a fixed set are `OTHER`: label cardinality is bounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { randomUUID } from 'node:crypto';
import type { DaemonStatus, SessionMetrics } from '../../client/src/index.js';
import type { DaemonClient } from '../../client/src/grpc/index.js';
import { RequestMetrics } from './request-metrics.js';
import { registerSessionMetrics } from './session-metrics.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface GatewayMetricsOptions {
  /** Fetches sandbox counts at scrape time; undefined or a rejection leaves the gauge without samples. */
  sandboxStatus?: () => Promise<DaemonStatus>;
  /** Fetches the loki_* session numbers at scrape time (SessionService/Metrics); undefined = no session series. */
  sessionMetrics?: () => Promise<SessionMetrics>;
  /** Default process metrics (off in tests that build many apps). */
  processMetrics?: boolean;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route'>;
  readonly inFlight: Gauge;
  readonly authFailures: Counter<'reason'>;
  readonly rateLimitRejections: Counter<'scope'>;
  readonly grpcDuration: Histogram<'method' | 'code'>;
  readonly grpcBatchCalls: Histogram;
  readonly auditForwarded: Counter;
  readonly auditDropped: Counter;
  readonly auditThrottled: Counter;
  readonly auditAggregated: Counter;
  readonly auditBuffered: Gauge;
  readonly reloads: Counter<'result'>;
  private readonly perRequest: RequestMetrics;
  // Requests being served, read by the gauge at scrape time: a number, not a prom-client call per request.
  private open = 0;

  constructor(opts: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // These gauges break Prometheus naming rules (`_total` on a non-counter) and
      // fail `promtool check metrics`; the per-type nodejs_active_* gauges stay.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(name);
      }
    }
    // http_requests_total and http_request_duration_seconds: fed by observeRequest only.
    this.perRequest = new RequestMetrics(this.registry);
    this.requests = this.perRequest.requests;
    this.duration = this.perRequest.duration;
    const inFlight = () => this.open;
    this.inFlight = new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests currently being served.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.authFailures = new Counter({
      name: 'loki_auth_failures_total',
      help: 'Failed authentication attempts, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.rateLimitRejections = new Counter({
      name: 'loki_rate_limit_rejections_total',
      help: 'Requests rejected by the rate limiter or the concurrency limit, by scope (subject, ip, lockout, concurrency).',
      labelNames: ['scope'],
      registers,
    });
    this.grpcDuration = new Histogram({
      name: 'loki_grpc_client_duration_seconds',
      help: 'Latency of gRPC calls from the gateway to the daemon, by method and result code.',
      labelNames: ['method', 'code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.grpcBatchCalls = new Histogram({
      name: 'loki_grpc_client_batch_calls',
      help: 'Daemon calls carried by each BatchService call (calls of one event-loop turn sent together; a call alone in its turn is sent on its own and not counted here).',
      buckets: [2, 4, 8, 16, 32, 64],
      registers,
    });
    this.auditForwarded = new Counter({ name: 'loki_audit_events_forwarded_total', help: 'Gateway audit events delivered to the daemon.', registers });
    this.auditDropped = new Counter({
      name: 'loki_audit_events_dropped_total',
      help: 'Gateway audit events lost: still buffered at shutdown, or refused by the daemon as invalid (a full buffer, and a refusal as over the daemon\'s bound, apply back-pressure instead).',
      registers,
    });
    this.auditThrottled = new Counter({
      name: 'loki_audit_events_throttled_total',
      help: 'Gateway audit sends the daemon refused as over its bound (audit.gateway_records_per_second); each is retried, not dropped.',
      registers,
    });
    this.auditAggregated = new Counter({
      name: 'loki_audit_events_aggregated_total',
      help: 'Gateway audit events folded into a counted entry (one per action, subject or address, and window) instead of one entry each.',
      registers,
    });
    this.auditBuffered = new Gauge({ name: 'loki_audit_events_buffered', help: 'Gateway audit events waiting for the daemon.', registers });
    this.reloads = new Counter({
      name: 'loki_gateway_config_reloads_total',
      help: 'SIGHUP configuration reloads, by result (applied, refused).',
      labelNames: ['result'],
      registers,
    });
    const fetchStatus = opts.sandboxStatus;
    new Gauge({
      name: 'loki_sandboxes',
      help: 'Sandboxes by state, as reported by the daemon at scrape time.',
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        if (!fetchStatus) return;
        try {
          const s = await fetchStatus();
          this.set({ state: 'running' }, s.sandboxes.running);
          this.set({ state: 'paused' }, s.sandboxes.paused);
          this.set({ state: 'exited' }, s.sandboxes.exited);
        } catch {
          // Daemon unreachable: no samples rather than stale or zero counts.
        }
      },
    });
    new Gauge({
      name: 'loki_sandbox_pool_ready',
      help: 'Warm sandbox pool slots started and waiting for a session (sandbox.pool.size is the target).',
      registers,
      async collect() {
        this.reset();
        if (!fetchStatus) return;
        try {
          this.set((await fetchStatus()).sandbox_pool?.ready ?? 0);
        } catch {
          // Daemon unreachable: no sample.
        }
      },
    });
    registerSessionMetrics(this.registry, opts.sessionMetrics);
  }

  observeGrpc = (method: string, code: string, seconds: number): void => {
    this.grpcDuration.observe({ method, code }, seconds);
  };

  observeBatch = (calls: number): void => {
    this.grpcBatchCalls.observe(calls);
  };

  /** A request began (http_requests_in_flight); pair each with one requestDone. */
  requestStarted(): void {
    this.open += 1;
  }

  requestDone(): void {
    this.open -= 1;
  }

  observeRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    this.perRequest.observe(METHODS.has(method) ? method : 'OTHER', route ?? 'unmatched', status, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * The gateway's metrics, the one way main.ts, buildApp and the tests make them.
 * With `daemon`, the scrape reads sandbox counts (read scope) and the daemon-wide
 * session numbers (Loki Mode's /metrics: every session) as the gateway itself.
 * `daemon` is a getter because the client is built after the metrics: it reports
 * its call durations to them.
 */
export function createGatewayMetrics(o: { daemon?: () => Pick<DaemonClient, 'getStatus' | 'forCaller'>; processMetrics?: boolean } = {}): GatewayMetrics {
  const daemon = o.daemon;
  const as = (scopes: string[]) => ({ requestId: `metrics-${randomUUID()}`, subject: 'gateway:metrics', scopes, auth: 'gateway' });
  return new GatewayMetrics({
    ...(daemon
      ? {
          sandboxStatus: () => daemon().getStatus(as(['read'])),
          sessionMetrics: () => daemon().forCaller(as(['*'])).sessions.metrics(),
        }
      : {}),
    ...(o.processMetrics === false ? { processMetrics: false } : {}),
  });
}
