// B16 (part): cost of an audit query as the log grows. Writes N entries through
// the real FileAuditLog (HMAC chain, group commit) for each size, then times the
// newest page (limit 100, no filter) and a filtered page (an action that is rare)
// with queryAuditLog, the function AuditService/Query runs. Prints p50/p99 per size
// and the growth factor against the smallest size measured in the same run: about
// 1× is flat, about the size ratio is linear.
// Run: npm run build && node dist/bench/b16-audit-query.js [--sizes 10000,1000000] [--queries 10]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { queryAuditLog } from '../daemon/src/audit/query.js';
import { FileAuditLog } from '../daemon/src/audit/sink.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10000,1000000' }, queries: { type: 'string', default: '10' } } });
const sizes = values.sizes!.split(',').map(Number);
const queries = Number(values.queries);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function fill(dir: string, n: number): Promise<number> {
  const sink = await FileAuditLog.open({ dir, key: randomBytes(32), log: pino({ level: 'silent' }), maintenanceIntervalMs: 0 });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < n) {
        const i = next++;
        // One entry in 1,000 has the rare action the filtered query looks for.
        await sink.record({ action: i % 1000 === 0 ? 'token.revoke' : 'task.update', user: 'token:bench', resource: `task:${i}`, result: 'success', details: { i }, ip: '127.0.0.1', request_id: `r-${i}` });
      }
    }),
  );
  const ms = performance.now() - t0;
  await sink.close();
  return ms;
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up (JIT, page cache)
  const out: number[] = [];
  for (let i = 0; i < queries; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const rows: { n: number; newest: number[]; filtered: number[] }[] = [];
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'lkb16-'));
    try {
      const fillMs = await fill(dir, n);
      const newest = await time(() => queryAuditLog(dir, { limit: 100 }));
      const filtered = await time(() => queryAuditLog(dir, { limit: 100, action: 'token.revoke' }));
      rows.push({ n, newest, filtered });
      process.stdout.write(`${n} entries written in ${(fillMs / 1000).toFixed(1)} s\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const base = rows[0]!;
  process.stdout.write(`\nB16 audit query (limit 100), ${queries} queries per size\n`);
  process.stdout.write(`entries      newest p50/p99 ms    x smallest   rare-action p50/p99 ms   x smallest\n`);
  for (const r of rows) {
    process.stdout.write(
      `${String(r.n).padEnd(10)} ${pct(r.newest, 50).toFixed(1).padStart(9)} / ${pct(r.newest, 99).toFixed(1).padEnd(9)} ${(pct(r.newest, 50) / pct(base.newest, 50)).toFixed(1).padStart(6)}x   ${pct(r.filtered, 50).toFixed(1).padStart(10)} / ${pct(r.filtered, 99).toFixed(1).padEnd(9)} ${(pct(r.filtered, 50) / pct(base.filtered, 50)).toFixed(1).padStart(6)}x\n`,
    );
  }
  process.stdout.write(`(size ratio ${(rows.at(-1)!.n / base.n).toFixed(0)}x: a growth factor near it is linear, near 1 is flat)\n`);
}

void main();
