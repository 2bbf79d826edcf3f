import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, RequestMetrics } from '../../gateway/src/request-metrics.js';

/** What the gateway registered before RequestMetrics: prom-client's own Counter and Histogram. */
function reference() {
  const registry = new Registry();
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route template and status code.', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request latency in seconds, by method and route template.', labelNames: ['method', 'route'], buckets: DURATION_BUCKETS, registers: [registry] });
  return {
    registry,
    observe(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
    },
  };
}

describe('RequestMetrics', () => {
  it('renders exactly what prom-client renders for the same requests (text and JSON)', async () => {
    const ref = reference();
    const registry = new Registry();
    const mine = new RequestMetrics(registry);
    // Empty families first, then a mix: every bucket edge, above the last bound, repeats, new series late.
    assert.equal(await registry.metrics(), await ref.registry.metrics());
    const seq: [string, string, number, number][] = [];
    DURATION_BUCKETS.forEach((b, i) => seq.push(['GET', '/api/status', 200, b], ['GET', '/api/status', 200, b + 1e-9 * i]));
    seq.push(['POST', '/api/sessions', 201, 11], ['GET', '/api/status', 401, 0], ['OTHER', 'unmatched', 404, 0.0004], ['GET', '/api/sessions/:id', 200, 0.3]);
    seq.push(['GET', '/api/status', 200, 0.002], ['POST', '/api/sessions', 409, 0.07]);
    for (const [m, r, s, v] of seq) {
      ref.observe(m, r, s, v);
      mine.observe(m, r, s, v);
    }
    assert.equal(await registry.metrics(), await ref.registry.metrics());
    assert.deepEqual(await registry.getMetricsAsJSON(), await ref.registry.getMetricsAsJSON());
    // A second scrape after more requests: counters keep counting, nothing is doubled.
    ref.observe('GET', '/api/status', 200, 0.004);
    mine.observe('GET', '/api/status', 200, 0.004);
    assert.equal(await registry.metrics(), await ref.registry.metrics());
  });

  it('counts a request whose duration is not a finite number but leaves it out of the histogram, as prom-client refuses it', async () => {
    const registry = new Registry();
    const mine = new RequestMetrics(registry);
    mine.observe('GET', '/x', 200, Number.NaN);
    const text = await registry.metrics();
    assert.match(text, /^http_requests_total\{method="GET",route="\/x",status="200"\} 1$/m);
    assert.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/x"\} 0$/m);
  });
});
