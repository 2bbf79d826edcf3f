import assert from 'node:assert/strict';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { RequestLogger } from '../../../gateway/src/plugins/request-logger.js';

function sink(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level, base: undefined, timestamp: false, redact: { paths: ['token', '*.token'], censor: '[REDACTED]' } }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log: log as unknown as FastifyBaseLogger, lines };
}

describe('RequestLogger', () => {
  it('writes the request line with its bindings, including ones set later, without a child logger', () => {
    const { log, lines } = sink();
    let children = 0;
    const counting = Object.assign(Object.create(log) as FastifyBaseLogger, {
      child: (...a: Parameters<FastifyBaseLogger['child']>) => {
        children++;
        return log.child(...a);
      },
    });
    const r = new RequestLogger(counting, { request_id: 'r1' });
    r.setBindings({ subject: 'token:ci' });
    r.line(log, { status: 200 }, 'request completed');
    assert.equal(children, 0);
    assert.deepEqual(lines, [{ level: 30, request_id: 'r1', subject: 'token:ci', status: 200, msg: 'request completed' }]);
  });

  it('makes the child on the first log call and keeps redaction and the bindings', () => {
    const { log, lines } = sink();
    const r = new RequestLogger(log, { request_id: 'r2' });
    r.setBindings({ subject: 'token:ci' });
    r.info({ detail: { token: 'loki_secret' } }, 'rejected');
    r.setBindings({ session_id: 'ses-1' });
    r.line(log, { status: 401 }, 'request completed');
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[0], { level: 30, request_id: 'r2', subject: 'token:ci', detail: { token: '[REDACTED]' }, msg: 'rejected' });
    assert.deepEqual(lines[1], { level: 30, request_id: 'r2', subject: 'token:ci', session_id: 'ses-1', status: 401, msg: 'request completed' });
  });

  it('writes nothing, and makes no child, below the level', () => {
    const { log, lines } = sink('warn');
    const r = new RequestLogger(log, { request_id: 'r3' });
    r.info('hidden');
    r.line(log, { status: 200 }, 'request completed');
    r.warn('shown');
    assert.deepEqual(lines, [{ level: 40, request_id: 'r3', msg: 'shown' }]);
  });
});
