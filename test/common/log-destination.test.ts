import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { LOG_FLUSH_MS, logDestination as gatewayLogDestination } from '../../common/src/log-destination.js';
import { ROOT } from '../helpers/entry.js';
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

// A process that logs a burst through the gateway's logger and destination and exits at once
// with process.exit, as the gateway does: no turn of the event loop for a write in flight to
// finish, only the exit hook's synchronous flush. It writes "logged" to fd 3 when the burst has
// returned. argv: target (a path, or "stderr"), lines, exitStallMs.
const CHILD = `
import { once } from 'node:events';
import { writeSync } from 'node:fs';
import { createLogger } from '${pathToFileURL(join(ROOT, `common/src/index.${compiled() ? 'js' : 'ts'}`)).href}';
import { logDestination } from '${pathToFileURL(join(ROOT, `common/src/log-destination.${compiled() ? 'js' : 'ts'}`)).href}';
const [target, n, stall] = process.argv.slice(2);
// "default": createLogger's own destination (lokid's and the CLI's: stderr, written at the end of each turn).
const destination = target === 'default' ? undefined : logDestination(target === 'stderr' ? { fd: 2 } : { dest: target }, { exitStallMs: Number(stall) });
if (destination) await once(destination, 'ready');
const log = createLogger({ name: 'loki-gateway', ...(destination ? { destination } : {}) }).child({ component: 'http' });
// As requests arrive: a few lines per turn of the event loop, so batch writes start all along.
for (let i = 0; i < Number(n); i++) {
  log.info({ i, pad: 'x'.repeat(i % 150) }, 'request completed');
  if (i % 50 === 49) await new Promise((r) => setImmediate(r));
}
writeSync(3, 'logged\\n');
process.exit(0);
`;

function compiled(): boolean {
  return existsSync(join(ROOT, 'common/src/log-destination.js'));
}

/** Runs CHILD from `dir`, its stderr a socket pair to this process, or with `viaCat` a real pipe (`| cat`). */
function spawnChild(dir: string, args: string[], viaCat = false) {
  const script = join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
  const node = [...(compiled() ? [] : ['--import', 'tsx']), script, ...args];
  const stdio: ['ignore', 'pipe', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe', 'pipe'];
  const child = viaCat
    ? spawn('sh', ['-c', '"$0" "$@" 2>&1 >/dev/null | cat', process.execPath, ...node], { stdio })
    : spawn(process.execPath, node, { stdio });
  const logged = new Promise<void>((resolve) => child.stdio[3]!.once('data', () => resolve()));
  // What the child logs to stderr: directly (a socket pair) or through cat (on cat's stdout).
  return { child, logged, log: (viaCat ? child.stdout : child.stderr)! };
}

/** Reads a stream to its end a little at a time, with a pause after each chunk, beginning after `start`. */
async function readSlowly(stream: Readable, start?: Promise<unknown>): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  // Claimed, or child_process would discard what is unread when the child exits.
  stream.on('readable', () => {});
  await start;
  for await (const chunk of stream) {
    text += chunk as string;
    await new Promise((r) => setTimeout(r, 2));
  }
  return text;
}

function indexes(text: string): number[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { i: number }).i);
}

describe('logDestination (the gateway\'s log, and every logger\'s default on stderr)', () => {
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

  it('with flushMs 0 (createLogger\'s default), writes a lone line at the end of the turn that logged it', async () => {
    const file = join(tmp.path, 'turn.log');
    const dest = gatewayLogDestination({ dest: file }, { flushMs: 0 });
    await once(dest, 'ready');
    pino({ base: undefined }, dest).info('lokid listening');
    assert.equal(lines(file).length, 0, 'not written in the same turn');
    await new Promise((r) => setImmediate(r));
    assert.equal(lines(file).length, 1, 'written at the end of the turn, not LOG_FLUSH_MS later');
    dest.end();
    await once(dest, 'close');
  });

  it('writes the lines still gathered, in order, on a synchronous flush (what pino does at process exit)', async () => {
    const { file, dest, log } = await openLog('burst.log');
    // Fewer than a batch: nothing has been written yet, so only the flush can write them.
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

  it('writes every line of a burst of many batches exactly once and in order on a synchronous flush', async () => {
    // The regression: with batches on the thread pool, a synchronous flush wrote the last lines
    // while an earlier batch was still in flight (it landed after them, or not before the read).
    for (let round = 0; round < 40; round++) {
      const { file, dest, log } = await openLog(`flush-${round}.log`);
      for (let i = 0; i < 1000; i++) log.info({ i, pad: 'x'.repeat(i % 100) }, 'request completed');
      dest.flushSync();
      assert.deepEqual(field<number>(file, 'i'), Array.from({ length: 1000 }, (_, i) => i), `round ${round}`);
      dest.end();
    }
  });

  it('keeps the order of lines across many batches with the event loop turning between them', async () => {
    const { file, dest, log } = await openLog('order.log');
    // Several batches, with the event loop turning between them (writes complete meanwhile).
    for (let i = 0; i < 5000; i++) {
      log.info({ i, pad: 'x'.repeat(i % 200) }, 'request completed');
      if (i % 97 === 0) await new Promise((r) => setImmediate(r));
    }
    dest.end();
    await once(dest, 'close');
    assert.deepEqual(field<number>(file, 'i'), Array.from({ length: 5000 }, (_, i) => i));
  });

  it('calls back from flush once every line gathered is written', async () => {
    const { file, dest, log } = await openLog('flush-cb.log');
    for (let i = 0; i < 300; i++) log.info({ i }, 'request completed');
    await new Promise<void>((resolve, reject) => dest.flush((err) => (err ? reject(err) : resolve())));
    assert.deepEqual(field<number>(file, 'i'), Array.from({ length: 300 }, (_, i) => i));
    dest.end();
  });

  it('writes lines logged after end() is called and before the destination closes', async () => {
    const { file, dest, log } = await openLog('late.log');
    log.info({ i: 0 }, 'request completed');
    dest.end();
    log.info({ i: 1 }, 'request completed');
    await once(dest, 'close');
    assert.deepEqual(field<number>(file, 'i'), [0, 1]);
  });

  describe('in a process that exits right after a burst (pino writes the rest at exit)', () => {
    it('leaves every line in a file exactly once and in order', async function () {
      this.timeout(120_000);
      for (let round = 0; round < 30; round++) {
        const file = join(tmp.path, `exit-${round}.log`);
        const { child } = spawnChild(tmp.path, [file, '1000', '10000']);
        const [code] = (await once(child, 'exit')) as [number];
        assert.equal(code, 0);
        assert.deepEqual(field<number>(file, 'i'), Array.from({ length: 1000 }, (_, i) => i), `round ${round}`);
      }
    });

    // stderr through this destination (a socket pair, or a real pipe through cat), and through
    // createLogger's default destination (lokid's and the CLI's).
    for (const [target, viaCat, what] of [
      ['stderr', false, 'on stderr'],
      ['stderr', true, 'on stderr piped through cat'],
      ['default', false, "on stderr with createLogger's default destination (lokid, the CLI)"],
    ] as const) {
      it(`leaves every line ${what}, read slowly, without blocking while the reader is behind`, async () => {
        // 20,000 lines (≈ 3 MB) is far more than the kernel holds for a reader that has not begun.
        const n = 20_000;
        const { child, logged, log } = spawnChild(tmp.path, [target, String(n), '10000'], viaCat);
        // The burst returns while nobody reads: a full pipe or socket refuses (EAGAIN), it does not block.
        const returned = await Promise.race([logged.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
        assert.ok(returned, 'the burst blocked on the full pipe');
        const [text] = await Promise.all([readSlowly(log), once(child, 'exit')]);
        assert.deepEqual(indexes(text), Array.from({ length: n }, (_, i) => i));
      });
    }

    it('exits when its reader takes nothing, having written a prefix of the burst in order', async () => {
      const n = 20_000;
      const { child, logged, log } = spawnChild(tmp.path, ['stderr', String(n), '300']);
      await logged;
      const started = Date.now();
      const exited = once(child, 'exit');
      const read = readSlowly(log, exited);
      await exited;
      assert.ok(Date.now() - started < 10_000, 'the process waited too long at exit');
      const got = indexes(await read);
      assert.ok(got.length < n, 'the reader took nothing, yet every line was written');
      assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => i));
    });
  });
});
