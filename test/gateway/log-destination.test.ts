import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { LOG_BATCH_BYTES, LOG_FLUSH_MS, gatewayLogDestination } from '../../gateway/src/log-destination.js';
import { ROOT } from '../helpers/entry.js';
import { tempDirEach } from '../helpers/temp.js';

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) if (cond()) return true;
  return cond();
}

describe('gatewayLogDestination', () => {
  const tmp = tempDirEach('lk-logdest-');

  it('writes a lone short line on the periodic flush, though it is far below the buffer size', async () => {
    const file = join(tmp.path, 'one.log');
    const dest = gatewayLogDestination({ dest: file });
    // A path is opened asynchronously (the gateway itself writes to fd 2, open from the start).
    await once(dest, 'ready');
    pino({ base: undefined }, dest).info('gateway listening');
    assert.ok(await waitFor(() => lines(file).length === 1, LOG_FLUSH_MS * 25), 'the line never reached the file');
    assert.match(lines(file)[0]!, /"msg":"gateway listening"/);
    dest.end();
  });

  it('keeps every line of a burst, in order, and what is still buffered is written on a synchronous flush', async () => {
    const file = join(tmp.path, 'burst.log');
    const dest = gatewayLogDestination({ dest: file });
    await once(dest, 'ready');
    const log = pino({ base: undefined }, dest);
    for (let i = 0; i < 1000; i++) log.info({ i }, 'request completed');
    // What pino does at process exit.
    dest.flushSync();
    const got = lines(file).map((l) => (JSON.parse(l) as { i: number }).i);
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
    dest.end();
  });

  it('writes a full batch at once, in order, without a flush', async () => {
    const file = join(tmp.path, 'full.log');
    const dest = gatewayLogDestination({ dest: file });
    await once(dest, 'ready');
    const log = pino({ base: undefined, timestamp: false }, dest);
    const pad = 'x'.repeat(200);
    const n = Math.ceil(LOG_BATCH_BYTES / 200) + 5;
    for (let i = 0; i < n; i++) log.info({ i, pad }, 'request completed');
    assert.ok(await waitFor(() => lines(file).length > 0, LOG_FLUSH_MS / 2), 'a full batch waited for the periodic flush');
    dest.flushSync();
    assert.deepEqual(
      lines(file).map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: n }, (_, i) => i),
    );
    dest.end();
  });

  it('still writes the gathered lines when the process exits at once', function () {
    const js = join(ROOT, 'gateway/src/log-destination.js');
    if (!existsSync(js)) this.skip(); // needs the compiled module (npm run build)
    const file = join(tmp.path, 'exit.log');
    const script = `import { pino } from 'pino'; import { gatewayLogDestination } from ${JSON.stringify(js)};
      const dest = gatewayLogDestination({ fd: (await import('node:fs')).openSync(${JSON.stringify(file)}, 'a') });
      const log = pino({ base: undefined }, dest);
      for (let i = 0; i < 25; i++) log.info({ i }, 'request completed');
      process.exit(0);`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    assert.equal(lines(file).length, 25);
  });
});
