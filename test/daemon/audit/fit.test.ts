// fitEvent: records the daemon writes about agent-controlled text fit the audit log's
// limits (validateEvent) instead of being refused, and every cut says what it left out.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { auditConfigSchema } from '../../../daemon/src/audit/config.js';
import { queryAuditLog } from '../../../daemon/src/audit/query.js';
import { createAuditRuntime } from '../../../daemon/src/audit/runtime.js';
import { runWithCaller } from '../../../daemon/src/authz/call-context.js';
import type { Caller } from '../../../daemon/src/authz/caller.js';
import { fitEvent, LIMITS, validateEvent } from '../../../daemon/src/audit/format.js';
import type { AuditEventInput } from '../../../daemon/src/audit/types.js';

const base: AuditEventInput = { action: 'policy.deny', user: 'session:s1', resource: 'session:s1', result: 'denied', reason: 'ok' };

describe('audit: fitEvent', () => {
  it('leaves an event that already fits exactly as it is (the same object)', () => {
    const ev = { ...base, details: { normalized: 'rm -r -f /', action_hash: 'a'.repeat(64) } };
    assert.equal(fitEvent(ev), ev);
  });

  it('shows control characters in the reason as escapes and cuts a long one with a count', () => {
    const ev = fitEvent({ ...base, reason: `a\u0001b\nc\u007f${'x'.repeat(2000)}` });
    assert.ok(ev.reason!.startsWith('a\\x01b\\x0ac\\x7f'), ev.reason);
    assert.ok(ev.reason!.length <= LIMITS.reason);
    const hidden = Number(/… \[\+(\d+) chars\]$/.exec(ev.reason!)?.[1]);
    assert.equal(ev.reason!.length - ` … [+${hidden} chars]`.length + hidden, 'a\\x01b\\x0ac\\x7f'.length + 2000, 'kept + hidden = the whole escaped reason');
    validateEvent(ev);
  });

  it('halves the longest detail strings until the details fit, never splitting a surrogate pair, and keeps short fields whole', () => {
    const emoji = '😀'.repeat(5000); // 4 bytes each in UTF-8, 2 UTF-16 units
    const ev = fitEvent({ ...base, details: { normalized: `x${emoji}`, command: '語'.repeat(4000), action_hash: 'h'.repeat(64), profile: 'default' } });
    const d = ev.details as Record<string, string>;
    assert.ok(Buffer.byteLength(JSON.stringify(d)) <= LIMITS.detailsBytes);
    assert.equal(d.action_hash, 'h'.repeat(64));
    assert.equal(d.profile, 'default');
    for (const k of ['normalized', 'command']) {
      assert.match(d[k]!, /… \[\+\d+ chars\]$/, `${k} says it was cut`);
      assert.doesNotMatch(d[k]!, /[\ud800-\udbff](?![\udc00-\udfff])/, `${k}: no lone high surrogate`);
    }
    validateEvent(ev);
  });

  it('writes an entry made during a gateway call whose details fit until the gateway-report marks are added', async () => {
    const home = mkdtempSync(join(tmpdir(), 'h16-fit-'));
    const rt = await createAuditRuntime({ config: auditConfigSchema.parse({}), home, log: pino({ level: 'silent' }) });
    try {
      const caller: Caller = { role: 'gateway', subject: 'token:approver', scopes: ['*'], auth: 'token:approver', requestId: 'req-1', clientIp: '203.0.113.7' };
      // Details the caller (and an agent) chose, fitted by the feature to just under the limit.
      const details = { comment: 'c'.repeat(LIMITS.detailsBytes - 40) };
      assert.ok(Buffer.byteLength(JSON.stringify(details)) <= LIMITS.detailsBytes);
      await runWithCaller(caller, () => rt.audit.record({ action: 'approval.decide', user: caller.subject, resource: 'session:s1', result: 'success', ip: caller.clientIp, request_id: caller.requestId, details }));
      const [e] = (await queryAuditLog(rt.dir, { limit: 1, action: 'approval.decide' })).entries;
      assert.ok(e, 'the entry was refused');
      assert.deepEqual(e.details.reported_by_gateway, ['ip', 'request_id']);
      assert.match(String(e.details.comment), /… \[\+\d+ chars\]$/);
    } finally {
      await rt.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
