import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyAuditLog } from '../../../daemon/src/audit/verify.js';
import { event, newKey, openSink, readLogLines, tempDir } from './helpers.js';

// Runs as .ts under tsx and as .js after tsc; the fixture sits beside us either way.
const here = fileURLToPath(import.meta.url);
const writerScript = join(here, '..', 'fixtures', `writer${extname(here)}`);

describe('FileAuditLog under kill -9', () => {
  it('loses no acknowledged entry when the writer is SIGKILLed mid-stream', async function () {
    this.timeout(60_000);
    const { dir, cleanup } = tempDir();
    const key = newKey();
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', writerScript, dir, key.toString('hex')], { stdio: ['ignore', 'pipe', 'pipe'] });
      const acked = new Set<number>();
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += String(c)));
      let buf = '';
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
      await new Promise<void>((resolve, reject) => {
        child.on('exit', () => reject(new Error(`writer exited early: ${stderr}`)));
        child.stdout.on('data', (c) => {
          buf += String(c);
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) acked.add(Number(l));
          // Kill while 16 writers keep batches in flight.
          if (acked.size >= 2000) resolve();
        });
      });
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      // Lines still in the pipe were acknowledged before the kill too.
      for (const l of buf.split('\n')) if (l) acked.add(Number(l));

      // Restart: recovery truncates any torn tail, and the chain continues.
      const sink = await openSink(dir, key, Date.now);
      await sink.record(event('session.start', 1));
      await sink.close();

      const present = new Set(readdirSync(dir).flatMap((f) => readLogLines(join(dir, f))).map((l) => JSON.parse(l).seq as number));
      const missing = [...acked].filter((s) => !present.has(s));
      assert.deepEqual(missing, [], `${missing.length} acknowledged entries lost`);
      const r = await verifyAuditLog(dir, key);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.ok(r.ok && r.entries >= acked.size + 1);
    } finally {
      cleanup();
    }
  });
});
