import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { LOG_FLUSH_MS, gatewayLogDestination } from '../../gateway/src/log-destination.js';
import { tempDirEach } from '../helpers/temp.js';

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) if (cond()) return true;
  return cond();
}

/** One field of every line written to `file`. */
function field<T>(file: string, key: string): T[] {
  return lines(file).map((l) => (JSON.parse(l) as Record<string, T>)[key]!);
}

describe('gatewayLogDestination', () => {
  const tmp = tempDirEach('lk-logdest-');

  /** A destination on a new file, open, with a pino logger writing to it. */
  async function openLog(name: string) {
    const file = join(tmp.path, name);
    const dest = gatewayLogDestination({ dest: file });
    await once(dest, 'ready');
    return { file, dest, log: pino({ base: undefined }, dest) };
  }

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

  it('writes the lines still gathered, in order, on a synchronous flush (what pino does at process exit)', async () => {
    const { file, dest, log } = await openLog('burst.log');
    // Fewer than a batch: nothing has been handed to a write yet, so only the flush can write them.
    // (A burst of several batches is not checked this way: sonic-boom's flushSync cannot wait for
    // a batch already on the thread pool, which may land after what it writes; see the next tests.)
    for (let i = 0; i < 20; i++) log.info({ i }, 'request completed');
    dest.flushSync();
    assert.deepEqual(field<number>(file, 'i'), Array.from({ length: 20 }, (_, i) => i));
    dest.end();
  });

  it('writes text outside ASCII byte-for-byte (lines are encoded as UTF-8 a batch at a time)', async () => {
    const { file, dest, log } = await openLog('utf8.log');
    const names = ['Zoë', 'Łukasz', '日本語', 'emoji 🙂'];
    for (const name of names) log.info({ name }, 'request completed');
    dest.flushSync();
    assert.deepEqual(field<string>(file, 'name'), names);
    dest.end();
  });

  it('writes the lines still gathered when the destination is ended', async () => {
    const { file, dest, log } = await openLog('end.log');
    for (let i = 0; i < 3; i++) log.info({ i }, 'request completed');
    dest.end();
    await once(dest, 'close');
    assert.deepEqual(field<number>(file, 'i'), [0, 1, 2]);
  });

  it('keeps the order of lines written while a batch is on its way to the file', async () => {
    const { file, dest, log } = await openLog('order.log');
    // Several batches, with the event loop turning between them (writes complete meanwhile).
    for (let i = 0; i < 5000; i++) {
      log.info({ i, pad: 'x'.repeat(i % 200) }, 'request completed');
      if (i % 97 === 0) await new Promise((r) => setImmediate(r));
    }
    // end() waits for a write still on its way (a synchronous flush cannot: sonic-boom's flushSync
    // writes what is gathered at once, and a batch already on the thread pool may land after it).
    dest.end();
    await once(dest, 'close');
    assert.deepEqual(field<number>(file, 'i'), Array.from({ length: 5000 }, (_, i) => i));
  });
});
