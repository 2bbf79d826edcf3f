import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LokiError, loadConfig, ConfigError } from '../../../common/src/index.js';
import { auditConfigSchema, auditEnvBindings } from '../../../daemon/src/audit/config.js';
import { loadOrCreateKey } from '../../../daemon/src/audit/files.js';
import { GENESIS_PREV } from '../../../daemon/src/audit/format.js';
import { createAuditRuntime } from '../../../daemon/src/audit/runtime.js';
import { verifyAuditLog } from '../../../daemon/src/audit/verify.js';
import { FileAuditLog } from '../../../daemon/src/audit/sink.js';
import { event, newKey, openSink, readLogLines, silentLogger, tempDir, testClock } from './helpers.js';
import { z } from 'zod';

describe('FileAuditLog', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('writes Loki Mode fields plus result, seq and the chain into a 0600 file named by UTC day', async () => {
    const clock = testClock('2026-03-04T23:59:59.500Z');
    const sink = await openSink(dir, newKey(), clock.now);
    await sink.record({ action: 'token.revoke', user: 'token:ci', resource: 'token:tok-1', result: 'denied', reason: 'not the owner', ip: '10.0.0.1', request_id: 'r1', details: { a: 1 } });
    await sink.close();
    const path = join(dir, 'audit-2026-03-04.jsonl');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const [line] = readLogLines(path);
    const e = JSON.parse(line!);
    assert.deepEqual(Object.keys(e), ['timestamp', 'action', 'user', 'resource', 'details', 'ip', 'result', 'reason', 'request_id', 'seq', 'prev', 'prev_file', 'mac']);
    assert.equal(e.timestamp, '2026-03-04T23:59:59.500Z');
    assert.equal(e.result, 'denied');
    assert.equal(e.reason, 'not the owner');
    assert.equal(e.seq, 1);
    assert.equal(e.prev, GENESIS_PREV);
    assert.equal(e.prev_file, '');
    assert.match(e.mac, /^[0-9a-f]{64}$/);
  });

  it('acknowledges many concurrent records with far fewer write+fsync batches', async () => {
    const sink = await openSink(dir, newKey(), Date.now);
    await Promise.all(Array.from({ length: 300 }, (_, i) => sink.record(event('task.create', i))));
    const stats = sink.stats();
    await sink.close();
    assert.equal(stats.written, 300);
    assert.ok(stats.batches < 30, `expected group commit, got ${stats.batches} batches`);
    const seqs = readdirSync(dir).flatMap((f) => readLogLines(join(dir, f))).map((l) => JSON.parse(l).seq as number);
    assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('writes an entry that finds the writer idle at once and batches what arrives during its commit', async () => {
    // Natural group commit: A starts its write in the turn it was recorded, so B
    // and C (recorded a loop turn later, while A's write + fdatasync is under
    // way) cannot join A's batch; they form the next one together. Default options.
    const sink = await FileAuditLog.open({ dir, key: newKey(), log: silentLogger(), maintenanceIntervalMs: 0 });
    const a = sink.append(event('task.create', 0));
    const later = new Promise<unknown>((resolve) => setImmediate(() => resolve(Promise.all([sink.append(event('task.create', 1)), sink.append(event('task.create', 2))]))));
    const first = await a;
    await later;
    const stats = sink.stats();
    await sink.close();
    assert.equal(first.seq, 1);
    assert.deepEqual({ written: stats.written, batches: stats.batches }, { written: 3, batches: 2 });
  });

  it('with max_batch_delay_ms set, lets the first entry of an idle period wait for company', async () => {
    const sink = await openSink(dir, newKey(), Date.now, { maxBatchDelayMs: 100 });
    const a = sink.append(event('task.create', 0));
    const later = new Promise<unknown>((resolve) => setImmediate(() => resolve(sink.append(event('task.create', 1)))));
    await Promise.all([a, later]);
    const stats = sink.stats();
    await sink.close();
    assert.deepEqual({ written: stats.written, batches: stats.batches }, { written: 2, batches: 1 });
  });

  it('rotates at the UTC day change, gzips the past day and chains across files', async () => {
    const key = newKey();
    const clock = testClock('2026-03-04T23:59:59Z');
    const sink = await openSink(dir, key, clock.now);
    await sink.record(event('session.start', 1));
    clock.advance(2000);
    await sink.record(event('session.stop', 2));
    await sink.maintain();
    await sink.close();
    assert.deepEqual(readdirSync(dir).sort(), ['audit-2026-03-04.jsonl.gz', 'audit-2026-03-05.jsonl']);
    const [first] = readLogLines(join(dir, 'audit-2026-03-05.jsonl')).map((l) => JSON.parse(l));
    const [prev] = readLogLines(join(dir, 'audit-2026-03-04.jsonl.gz')).map((l) => JSON.parse(l));
    assert.equal(first.prev_file, 'audit-2026-03-04.jsonl');
    assert.equal(first.prev, prev.mac);
    assert.equal(first.seq, 2);
    assert.equal((await verifyAuditLog(dir, key)).ok, true);
  });

  it('continues seq and prev after a restart, truncating a torn last line', async () => {
    const key = newKey();
    let sink = await openSink(dir, key, Date.now);
    for (let i = 0; i < 3; i++) await sink.record(event('task.update', i));
    await sink.close();
    const [file] = readdirSync(dir);
    appendFileSync(join(dir, file!), '{"timestamp":"2026-0'); // what a kill -9 mid-write can leave
    sink = await openSink(dir, key, Date.now);
    await sink.record(event('task.update', 4));
    await sink.close();
    const entries = readLogLines(join(dir, file!)).map((l) => JSON.parse(l));
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4]);
    assert.equal(entries[3].prev, entries[2].mac);
    const r = await verifyAuditLog(dir, key);
    assert.equal(r.ok, true, JSON.stringify(r));
  });

  it('refuses to continue a log written with a different key', async () => {
    const sink = await openSink(dir, newKey(), Date.now);
    await sink.record(event('task.create', 1));
    await sink.close();
    await assert.rejects(openSink(dir, newKey(), Date.now), /audit key does not match/);
  });

  it('rejects malformed events with invalid_argument naming the problem', async () => {
    const sink = await openSink(dir, newKey(), Date.now);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ action: 'Session.Start' }, /action/],
      [{ action: 'nodot' }, /action/],
      [{ result: 'maybe' }, /result/],
      [{ result: 'denied' }, /needs a reason/],
      [{ user: '' }, /"user" is required/],
      [{ resource: 'x\ny' }, /control characters/],
      [{ details: { big: 'x'.repeat(9000) } }, /details are larger/],
    ];
    for (const [patch, msg] of bad) {
      await assert.rejects(sink.record({ ...event('task.create', 1), ...patch } as never), (err: unknown) => {
        assert.ok(err instanceof LokiError);
        assert.equal(err.code, 'invalid_argument');
        assert.match(err.message, msg);
        return true;
      });
    }
    await sink.close();
    assert.equal(readdirSync(dir).length, 0);
  });
});

describe('loadOrCreateKey', () => {
  it('creates a 32-byte 0600 key once and reads the same key back', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'state', 'audit.key');
      const k1 = loadOrCreateKey(path);
      assert.equal(k1.length, 32);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.deepEqual(loadOrCreateKey(path), k1);
      writeFileSync(path, 'short');
      assert.throws(() => loadOrCreateKey(path), /exactly 32 bytes/);
    } finally {
      cleanup();
    }
  });
});

describe('createAuditRuntime', () => {
  const schema = z.object({ audit: auditConfigSchema }).strict();

  it('with LOKI_AUDIT_DISABLED=true records nothing and warns at startup', async () => {
    const { dir, cleanup } = tempDir();
    const lines: string[] = [];
    const dest = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    try {
      const cfg = loadConfig({ schema, env: { LOKI_AUDIT_DISABLED: 'true' }, bindings: auditEnvBindings });
      assert.equal(cfg.audit.disabled, true);
      const rt = await createAuditRuntime({ config: cfg.audit, home: dir, log: pino({ level: 'info' }, dest) });
      await rt.audit.record(event('session.start', 1));
      await rt.close();
      assert.equal(existsSync(join(dir, 'dashboard', 'audit')), false);
      assert.equal(existsSync(join(dir, 'state', 'audit.key')), false);
      const warn = lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
      assert.ok(warn, 'a warn line');
      assert.match(warn.msg, /audit logging is DISABLED/);
      assert.equal(warn.component, 'audit');
    } finally {
      cleanup();
    }
  });

  it('is on by default and writes under $LOKI_HOME/dashboard/audit with the key in state/', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const cfg = loadConfig({ schema, env: {}, bindings: auditEnvBindings });
      assert.deepEqual({ ...cfg.audit }, { disabled: false, retention_days: 30, max_batch_delay_ms: 0, gateway_records_per_second: 500, gateway_records_burst: 5000 });
      const rt = await createAuditRuntime({ config: cfg.audit, home: dir, log: pino({ level: 'silent' }) });
      await rt.audit.record(event('session.start', 1));
      await rt.close();
      assert.equal(readdirSync(join(dir, 'dashboard', 'audit')).length, 1);
      assert.equal(readFileSync(join(dir, 'state', 'audit.key')).length, 32);
    } finally {
      cleanup();
    }
  });

  it('maps the syslog environment variables and reports every bad value', () => {
    const cfg = loadConfig({
      schema,
      env: { LOKI_AUDIT_SYSLOG_HOST: 'siem.example', LOKI_AUDIT_SYSLOG_PORT: '6514', LOKI_AUDIT_SYSLOG_PROTOCOL: 'tls', LOKI_AUDIT_RETENTION_DAYS: '90' },
      bindings: auditEnvBindings,
    });
    assert.equal(cfg.audit.retention_days, 90);
    assert.deepEqual({ ...cfg.audit.syslog }, { host: 'siem.example', port: 6514, protocol: 'tls', facility: 13, app_name: 'lokid', max_queue: 10_000 });
    assert.throws(
      () => loadConfig({ schema, env: { LOKI_AUDIT_RETENTION_DAYS: '0', LOKI_AUDIT_SYSLOG_HOST: 'h', LOKI_AUDIT_SYSLOG_PROTOCOL: 'smtp' }, bindings: auditEnvBindings }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });
});
