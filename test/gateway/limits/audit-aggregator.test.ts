// The aggregator's accounting: over any number of windows, the entries it asks to
// record add up (count, or 1 for a single event) to exactly the events offered, and
// a steady flood yields two entries per window, never one per event.
import assert from 'node:assert/strict';
import { AuditAggregator } from '../../../gateway/src/audit-aggregator.js';
import type { AuditEvent } from '../../../gateway/src/audit-forwarder.js';

const ev = (action: string, ip: string): AuditEvent => ({ action, resource: 'route:GET /x', result: 'denied', reason: 'r', identity: { requestId: 'q', clientIp: ip } });
const weight = (e: AuditEvent) => (typeof e.details?.count === 'number' ? e.details.count : 1);

describe('AuditAggregator', () => {
  it('accounts for every event of a steady flood with two entries per window', () => {
    let t = 0;
    const agg = new AuditAggregator({ actions: ['rate_limit.reject'], windowMs: 1000, maxKeys: 10 }, () => t);
    const out: AuditEvent[] = [];
    for (let i = 0; i < 5000; i++) {
      t = i; // one event per ms: five windows
      out.push(...agg.offer(ev('rate_limit.reject', '192.0.2.1')));
    }
    out.push(...agg.sweep(true));
    assert.equal(out.reduce((n, e) => n + weight(e), 0), 5000);
    assert.equal(out.length, 10);
  });

  it('passes other actions through one by one, keeps sources apart, and never tracks more keys than allowed', () => {
    const agg = new AuditAggregator({ actions: ['auth.fail'], windowMs: 1000, maxKeys: 2 }, () => 0);
    assert.equal(agg.offer(ev('access.denied', '192.0.2.1')).length, 1);
    assert.equal(agg.offer(ev('access.denied', '192.0.2.1')).length, 1);
    for (const ip of ['192.0.2.1', '192.0.2.2']) assert.equal(agg.offer(ev('auth.fail', ip)).length, 1);
    assert.equal(agg.offer(ev('auth.fail', '192.0.2.1')).length, 0);
    assert.equal(agg.offer(ev('auth.fail', '192.0.2.3')).length, 1, 'a third source is recorded as it comes (no room to count it)');
    assert.equal(agg.offer(ev('auth.fail', '192.0.2.3')).length, 1);
    const rest = agg.sweep(true);
    assert.equal(rest.length, 1);
    assert.equal(rest[0]!.details?.count, 1);
  });
});
