// Audit append throughput: the group-committing FileAuditLog (every entry
// acknowledged only after fdatasync) against the naive durable loop — one
// appendFile + fsync per entry — in the same run, on the same disk.
// Run: npx tsx bench/audit-append.ts [entries] [concurrency]
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { FileAuditLog } from '../daemon/src/audit/sink.js';

const total = Number(process.argv[2] ?? 5000);
const concurrency = Number(process.argv[3] ?? 64);

function entry(i: number) {
  return { action: 'task.update', user: 'token:bench', resource: `task:${i}`, result: 'success' as const, details: { i }, ip: '127.0.0.1', request_id: `r-${i}` };
}

async function baseline(dir: string): Promise<number> {
  const fh = await open(join(dir, 'baseline.jsonl'), 'a', 0o600);
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    await fh.appendFile(JSON.stringify({ timestamp: new Date().toISOString(), ...entry(i) }) + '\n');
    await fh.sync();
  }
  const ms = performance.now() - t0;
  await fh.close();
  return (total / ms) * 1000;
}

async function groupCommit(dir: string): Promise<{ rate: number; batches: number }> {
  const sink = await FileAuditLog.open({ dir: join(dir, 'audit'), key: randomBytes(32), log: pino({ level: 'silent' }), maintenanceIntervalMs: 0 });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await sink.record(entry(next++));
    }),
  );
  const ms = performance.now() - t0;
  const { batches } = sink.stats();
  await sink.close();
  return { rate: (total / ms) * 1000, batches };
}

const dir = mkdtempSync(join(tmpdir(), 'loki-bench-audit-'));
try {
  const base = await baseline(dir);
  const gc = await groupCommit(dir);
  const out = process.stdout;
  out.write(`entries: ${total}, concurrent writers: ${concurrency}, dir: ${dir}\n`);
  out.write(`appendFile + fsync per entry: ${base.toFixed(0)} entries/s\n`);
  out.write(`FileAuditLog (HMAC chain, group commit, fdatasync): ${gc.rate.toFixed(0)} entries/s in ${gc.batches} batches\n`);
  out.write(`ratio: ${(gc.rate / base).toFixed(1)}x (goal >= 10x)\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
