// http_requests_total and http_request_duration_seconds, counted per request in
// plain numbers and handed to prom-client at scrape time. prom-client's inc() and
// observe() validate and hash their label object on every call (and the caller
// builds two label objects per request); here a request costs three map lookups
// on strings V8 has already hashed (route template, method, status) and a bucket
// scan. The /metrics text is exactly prom-client's: the same families, labels,
// buckets and order (series in order of first appearance).
import { Counter, Histogram, type Registry } from 'prom-client';

export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type RequestLabels = 'method' | 'route';

const NAME = 'http_request_duration_seconds';
const HELP = 'HTTP request latency in seconds, by method and route template.';

interface StatusCell {
  labels: { method: string; route: string; status: string };
  n: number;
}

interface RouteCell {
  labels: { method: string; route: string };
  /** Observations per bucket, not cumulative; the last one is above every bound (+Inf only). */
  buckets: number[];
  sum: number;
  count: number;
  statuses: Map<number, StatusCell>;
}

type Value = { labels: Record<string, string | number>; sharedLabels?: Record<string, string>; value: number; metricName: string };

/** The duration histogram of RequestMetrics, rendered from its cells. */
class DurationHistogram extends Histogram<RequestLabels> {
  constructor(
    registry: Registry,
    private readonly cells: readonly RouteCell[],
  ) {
    super({
      name: NAME,
      help: HELP,
      labelNames: ['method', 'route'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  }

  /** Series as prom-client's Histogram lists them: buckets (cumulative), +Inf, sum, count per label set. */
  private values(): Value[] {
    const out: Value[] = [];
    const bucket = `${NAME}_bucket`;
    for (const c of this.cells) {
      let acc = 0;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        acc += c.buckets[i]!;
        out.push({ labels: { le: DURATION_BUCKETS[i]! }, sharedLabels: c.labels, value: acc, metricName: bucket });
      }
      out.push({ labels: { le: '+Inf' }, sharedLabels: c.labels, value: c.count, metricName: bucket });
      out.push({ labels: {}, sharedLabels: c.labels, value: c.sum, metricName: `${NAME}_sum` });
      out.push({ labels: {}, sharedLabels: c.labels, value: c.count, metricName: `${NAME}_count` });
    }
    return out;
  }

  /** What the registry renders (prom-client calls this for the text format). */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: Value[]; aggregator: 'sum' }> {
    return { name: NAME, help: HELP, type: 'histogram', values: this.values(), aggregator: 'sum' };
  }

  override async get(): ReturnType<Histogram<RequestLabels>['get']> {
    // prom-client's JSON shape: bucket series carry a null exemplar, sum and count an undefined one.
    const values = this.values().map(({ labels, sharedLabels, value, metricName }) => ({
      value,
      metricName,
      exemplar: 'le' in labels ? null : undefined,
      labels: { ...labels, ...sharedLabels },
    }));
    return { name: NAME, help: HELP, type: 'histogram', values, aggregator: 'sum' } as unknown as Awaited<ReturnType<Histogram<RequestLabels>['get']>>;
  }
}

export class RequestMetrics {
  readonly requests: Counter<RequestLabels | 'status'>;
  readonly duration: Histogram<RequestLabels>;
  private readonly byRoute = new Map<string, Map<string, RouteCell>>();
  private readonly cells: RouteCell[] = [];
  private readonly statusCells: StatusCell[] = [];

  constructor(registry: Registry) {
    const statusCells = this.statusCells;
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of statusCells) this.inc(s.labels, s.n);
      },
    });
    this.duration = new DurationHistogram(registry, this.cells);
  }

  /** One answered request; `method` and `route` are already bounded (a fixed set, templates). */
  observe(method: string, route: string, status: number, seconds: number): void {
    let methods = this.byRoute.get(route);
    if (!methods) this.byRoute.set(route, (methods = new Map()));
    let cell = methods.get(method);
    if (!cell) {
      cell = { labels: { method, route }, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0, statuses: new Map() };
      methods.set(method, cell);
      this.cells.push(cell);
    }
    let s = cell.statuses.get(status);
    if (!s) {
      s = { labels: { method, route, status: String(status) }, n: 0 };
      cell.statuses.set(status, s);
      this.statusCells.push(s);
    }
    s.n += 1;
    // prom-client refuses a value that is not a finite number; so does this.
    if (!Number.isFinite(seconds)) return;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    cell.buckets[i]! += 1;
    cell.sum += seconds;
    cell.count += 1;
  }
}
