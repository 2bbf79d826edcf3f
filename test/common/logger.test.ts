import assert from 'node:assert/strict';
import { pino } from 'pino';
import { SECRET_HINT, cachedIsoTime, createLogger, mayHoldSecret, scrubSecrets } from '../../common/src/index.js';

const TOKEN = `loki_${'A1b2C3d4'.repeat(4)}`;

describe('scrubSecrets', () => {
  const secretBearing = [
    `GET /api/status?token=${TOKEN}`,
    `{"url":"/x?access_token=abcdef123456&y=1"}`,
    `{"url":"/cb?code=0123456789abcdef"}`,
    `{"url":"/x?id_token=eyJhbGciOi.x.y"}`,
    `{"err":"upstream said: Bearer abcdefgh12345678"}`,
    `{"err":"upstream said: bearer abcdefgh12345678"}`,
    `{"err":"upstream said: BEARER abcdefgh12345678"}`,
    `{"msg":"pasted ${TOKEN} by mistake"}`,
  ];

  it('masks Loki tokens, bearer credentials in any case and secret query values', () => {
    for (const text of secretBearing) {
      const out = scrubSecrets(text);
      assert.notEqual(out, text, text);
      assert.match(out, /\[REDACTED\]/);
      assert.ok(!out.includes('A1b2C3d4A1b2') && !out.includes('abcdefgh1234') && !out.includes('0123456789ab') && !out.includes('abcdef123456'), out);
    }
  });

  it('looks for a hint first, and every text it would change has one', () => {
    for (const text of secretBearing) {
      assert.ok(mayHoldSecret(text), text);
      assert.ok(SECRET_HINT.test(text), text);
    }
    const clean = '{"level":"info","time":"2026-01-02T03:04:05.678Z","pid":1,"name":"loki-gateway","msg":"request completed","url":"/api/sessions/abc"}';
    assert.equal(mayHoldSecret(clean), false);
    assert.equal(SECRET_HINT.test(clean), false);
    assert.equal(scrubSecrets(clean), clean);
  });
});

describe('cachedIsoTime', () => {
  it('writes what pino.stdTimeFunctions.isoTime writes, formatted once per millisecond', () => {
    let now = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    let calls = 0;
    const clock = () => {
      calls++;
      return now;
    };
    const time = cachedIsoTime(clock);
    const first = time();
    assert.equal(first, ',"time":"2026-01-02T03:04:05.678Z"');
    assert.equal(time(), first);
    assert.equal(calls, 2, 'the clock is read on every line');
    now += 1;
    assert.equal(time(), ',"time":"2026-01-02T03:04:05.679Z"');
    // pino's own, for the format.
    const realNow = Date.now();
    const cached = cachedIsoTime(() => realNow)();
    assert.equal(cached, `,"time":"${new Date(realNow).toISOString()}"`);
    assert.match(pino.stdTimeFunctions.isoTime(), /^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
  });

  it('matches toISOString across milliseconds, second and year boundaries', () => {
    let t = 0;
    const time = cachedIsoTime(() => t);
    const starts = [Date.UTC(2026, 11, 31, 23, 59, 58, 990), Date.UTC(1999, 0, 1), Date.now(), -1500, 0];
    for (const start of starts) {
      for (t = start; t < start + 2100; t += 7) assert.equal(time(), `,"time":"${new Date(t).toISOString()}"`, String(t));
    }
  });

  it('is the clock of loggers from createLogger: ISO time strings in every line', () => {
    const lines: string[] = [];
    const log = createLogger({ name: 't', destination: { write: (l: string) => void lines.push(l) } });
    const before = Date.now();
    log.info('one');
    log.child({ component: 'c' }).info('two');
    for (const l of lines) {
      const t = Date.parse((JSON.parse(l) as { time: string }).time);
      assert.ok(t >= before && t <= Date.now(), l);
    }
    assert.equal(lines.length, 2);
  });
});
