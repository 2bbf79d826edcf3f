// The token bucket behind audit.gateway_records_*: refill, burst, cost by size, and
// one counted entry per window (a fake clock: waiting out a window is the test's cost).
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { GatewayRecordBudget, MAX_RECORD_COST, recordCost } from '../../../daemon/src/audit/gateway-budget.js';
import type { AuditEventInput } from '../../../daemon/src/audit/types.js';

describe('GatewayRecordBudget', () => {
  const log = pino({ level: 'silent' });

  it('refills at the rate up to the burst, and writes one entry per window however many it refused', async () => {
    let now = 1_000_000;
    const entries: AuditEventInput[] = [];
    const b = new GatewayRecordBudget({ perSecond: 10, burst: 15, record: async (e) => void entries.push(e), log, now: () => now, windowMs: 60_000 });
    const small = { action: 'auth.fail', resource: 'r', reason: 'x', detailsJson: '' };
    for (let i = 0; i < 15; i++) b.take(small);
    assert.throws(() => b.take(small), /audit\.gateway_records_per_second = 10/);
    now += 500; // half a second: 5 more
    for (let i = 0; i < 5; i++) b.take(small);
    assert.throws(() => b.take({ ...small, action: 'rate_limit.reject' }));
    now += 3_600_000; // an hour idle refills to the burst, no further
    for (let i = 0; i < 15; i++) b.take(small);
    assert.throws(() => b.take(small));
    assert.equal(b.refused(), 3);
    assert.equal(entries.length, 0, 'written when the window closes, not per refusal');
    await b.flush();
    assert.equal(entries.length, 1);
    assert.deepEqual(entries[0]!.details?.by_action, { 'auth.fail': 2, 'rate_limit.reject': 1 });
    assert.equal(entries[0]!.details?.count, 3);
    await b.flush();
    assert.equal(entries.length, 1, 'nothing more to say');
  });

  it('costs 1 per record plus 1 per whole KiB, counted at the log\'s field limits', () => {
    assert.equal(recordCost({ action: 'a', resource: 'r', reason: '', detailsJson: '{"count":3}' }), 1);
    assert.equal(recordCost({ action: 'a', resource: 'r', reason: '', detailsJson: 'x'.repeat(2048) }), 3);
    // Bytes on disk, not characters: 512 four-byte characters are 2 KiB.
    assert.equal(recordCost({ action: 'a', resource: '\u{1F600}'.repeat(256), reason: '', detailsJson: '' }), 2);
    assert.equal(recordCost({ action: 'a', resource: '', reason: '\u00e9'.repeat(1024), detailsJson: '' }), 3);
    assert.equal(recordCost({ action: 'a', resource: 'r'.repeat(10_000), reason: 'x'.repeat(10_000), detailsJson: 'x'.repeat(1_000_000) }), 10);
    // The most a record can cost: three-byte characters up to the text limits, and full details.
    assert.equal(recordCost({ action: 'a', resource: '\u20ac'.repeat(10_000), reason: '\u20ac'.repeat(10_000), detailsJson: 'x'.repeat(1_000_000) }), MAX_RECORD_COST);
    assert.equal(MAX_RECORD_COST, 13);
  });
});
