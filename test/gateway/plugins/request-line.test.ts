import assert from 'node:assert/strict';
import type { FastifyBaseLogger } from 'fastify';
import { pino, type LoggerOptions } from 'pino';
import { REDACT_PATHS, createLogger, scrubSecrets } from '../../../common/src/index.js';
import { requestLineWriter, type RequestLine } from '../../../gateway/src/plugins/request-line.js';

const MSG = 'request completed';

/** A logger with createLogger's options but a fixed clock, and the request-line child the gateway uses. */
function capture(extra: Partial<LoggerOptions> = {}) {
  const lines: string[] = [];
  const root = pino(
    {
      name: 'loki-gateway',
      level: 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      base: { pid: 4242 },
      timestamp: () => ',"time":"2026-01-02T03:04:05.678Z"',
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: scrubSecrets },
      ...extra,
    },
    { write: (l: string) => void lines.push(l) },
  );
  const log = root.child({ component: 'http' }).child({}, { redact: { paths: [] } }) as unknown as FastifyBaseLogger;
  return { root, log, lines };
}

/** The same line through pino's own serializer. */
function viaPino(log: FastifyBaseLogger, r: RequestLine): void {
  log.info(
    { request_id: r.requestId, subject: r.subject, method: r.method, route: r.route, url: r.url, status: r.status, duration_ms: r.durationMs, client_ip: r.clientIp, session_id: r.sessionId },
    MSG,
  );
}

const base: RequestLine = { requestId: 'd7a3c1e2-0b4f-4e9a-9a51-3f2d8c6b1a00', subject: 'token:ci', method: 'GET', route: '/api/sessions/:id', url: '/api/sessions/s-1', status: 200, durationMs: 1.23, clientIp: '127.0.0.1', sessionId: 's-1' };
const TOKEN = `loki_${'Zq9Xw8Vu'.repeat(4)}`;

describe('requestLineWriter', () => {
  it('writes byte for byte the line pino writes for the same fields', () => {
    const cases: RequestLine[] = [
      base,
      { ...base, subject: undefined, sessionId: undefined, route: 'unmatched', status: 404 },
      { ...base, url: '/a/"quoted"\\back\u0001ctl\ud800lone/é', durationMs: 1e-7 },
      { ...base, url: '/api/status?x=1&y=2', durationMs: Number.NaN },
      { ...base, subject: 'oidc:"odd"\nuser', clientIp: '::ffff:10.0.0.1', status: 503 },
    ];
    for (const r of cases) {
      const { log, lines } = capture();
      const write = requestLineWriter(log, MSG);
      assert.ok(write);
      write(r);
      viaPino(log, r);
      assert.equal(lines.length, 2);
      assert.equal(lines[0], lines[1], JSON.stringify(r));
      JSON.parse(lines[0]!);
    }
  });

  it('writes each line as pino does when plain and unusual values follow one another through one writer', () => {
    const { log, lines } = capture();
    const write = requestLineWriter(log, MSG)!;
    const odd: Partial<RequestLine>[] = [
      {},
      { subject: 'oidc:"odd"\nuser' },
      {},
      { subject: `token:${TOKEN}` },
      { route: '/a/"q"' },
      { clientIp: '::ffff:10.0.0.1' },
      { clientIp: undefined as unknown as string },
      { method: 'GET\u0001' },
      {},
    ];
    for (const o of odd) {
      write({ ...base, ...o });
      viaPino(log, { ...base, ...o });
    }
    for (let i = 0; i < lines.length; i += 2) assert.equal(lines[i], lines[i + 1], String(i / 2));
    assert.ok(!lines.some((l) => l.includes(TOKEN)));
  });

  it('writes durations as pino does, rounded to hundredths or not', () => {
    const { log, lines } = capture();
    const write = requestLineWriter(log, MSG)!;
    const values = [0, 0.01, 0.1, 0.5, 1, 1.05, 1.2, 1.23, 12.3, 99.99, 100, 1234.56, 86_400_000.01, 1e-7, 0.123456, 1 / 3, 2e15, -1.5];
    for (let h = 0; h < 20_000; h += 7) values.push(Math.round(h * 1.37) / 100);
    for (const durationMs of values) {
      write({ ...base, durationMs });
      viaPino(log, { ...base, durationMs });
    }
    for (let i = 0; i < lines.length; i += 2) assert.equal(lines[i], lines[i + 1]);
  });

  it('scrubs a token in the URL, the subject or the session id, plain or after escaping', () => {
    const { log, lines } = capture();
    const write = requestLineWriter(log, MSG)!;
    write({ ...base, url: `/nowhere/${TOKEN}` });
    write({ ...base, url: `/api/status?token=${TOKEN.slice(5)}` });
    write({ ...base, subject: `token:${TOKEN}` });
    write({ ...base, sessionId: TOKEN, url: `/api/sessions/${TOKEN}"x` });
    write({ ...base, url: '/x', subject: 'Bearer abcdefgh12345678' });
    assert.equal(lines.length, 5);
    const text = lines.join('');
    assert.ok(!text.includes(TOKEN.slice(5, 25)), text);
    assert.ok(!text.includes('abcdefgh1234'), text);
    for (const l of lines) JSON.parse(l);
  });

  it('writes nothing below info and follows the parent logger to a new level', () => {
    const { root, log, lines } = capture();
    const write = requestLineWriter(log, MSG)!;
    root.level = 'warn';
    write(base);
    assert.equal(lines.length, 0);
    root.level = 'info';
    write(base);
    assert.equal(lines.length, 1);
  });

  it('runs a streamWrite hook other than the scrubber on every line', () => {
    const { log, lines } = capture({ hooks: { streamWrite: (s: string) => s.replace('token:ci', 'token:hooked') } });
    requestLineWriter(log, MSG)!(base);
    assert.match(lines[0]!, /"subject":"token:hooked"/);
  });

  it('declines a logger whose lines it cannot reproduce (mixin, message prefix)', () => {
    assert.equal(requestLineWriter(capture({ mixin: () => ({ extra: 1 }) }).log, MSG), undefined);
    assert.equal(requestLineWriter(capture({ msgPrefix: '[gw] ' }).log, MSG), undefined);
  });

  it('writes through a logger from createLogger: the JSON keys the docs list', () => {
    const lines: string[] = [];
    const log = createLogger({ name: 'loki-gateway', destination: { write: (l: string) => void lines.push(l) } }).child({ component: 'http' }) as unknown as FastifyBaseLogger;
    requestLineWriter(log, MSG)!(base);
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(o), ['level', 'time', 'pid', 'name', 'component', 'request_id', 'subject', 'method', 'route', 'url', 'status', 'duration_ms', 'client_ip', 'session_id', 'msg']);
    assert.equal(o.level, 'info');
    assert.equal(o.msg, MSG);
  });
});
