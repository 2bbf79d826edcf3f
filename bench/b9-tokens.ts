// B9: token verification throughput with 10 vs 10,000 tokens in the store.
// Verification is an indexed lookup by SHA-256, so the goal is a ratio ≈ 1.0×.
// Run: npx tsx bench/b9-tokens.ts [--seconds N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { openSqliteStore } from '../daemon/src/store/sqlite/index.js';
import { TOKENS_CONFIG_DEFAULTS } from '../daemon/src/tokens/config.js';
import { TokenStore } from '../daemon/src/tokens/store.js';
import { generateSecret } from '../daemon/src/tokens/secret.js';

export interface B9Result {
  tokens: number;
  validPerSec: number;
  unknownPerSec: number;
}

function measure(seconds: number, fn: (i: number) => void): number {
  // Warm up the JIT and SQLite's page cache before timing.
  for (let i = 0; i < 2000; i++) fn(i);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let j = 0; j < 500; j++) fn(n++);
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

export function runB9Case(count: number, seconds: number): B9Result {
  const home = mkdtempSync(join(tmpdir(), 'loki-b9-'));
  const sq = openSqliteStore(join(home, 'loki.db'));
  const db = sq.db;
  const store = new TokenStore({
    repo: sq.tokens,
    config: { ...TOKENS_CONFIG_DEFAULTS, max_active_per_user: 10_000 },
    log: pino({ level: 'silent' }),
  });
  try {
    const secrets: string[] = [];
    // One outer transaction: setup cost only, it does not change the lookup path.
    db.transaction(() => {
      for (let i = 0; i < count; i++) secrets.push(store.generate({ name: `b9-${i}`, owner: `bench:${i % 100}` }).secret);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    // Sample across the whole set so a large store is not only probed at one spot.
    const sample = Array.from({ length: 64 }, (_, i) => secrets[Math.floor((i * count) / 64) % count]!);
    const unknown = Array.from({ length: 64 }, () => generateSecret());
    const validPerSec = measure(seconds, (i) => {
      if (!store.verify(sample[i & 63]!).ok) throw new Error('bench token did not verify');
    });
    const unknownPerSec = measure(seconds, (i) => {
      if (store.verify(unknown[i & 63]!).ok) throw new Error('unknown token verified');
    });
    return { tokens: count, validPerSec, unknownPerSec };
  } finally {
    store.close();
    db.close();
    rmSync(home, { recursive: true, force: true });
  }
}

function main(): void {
  const i = process.argv.indexOf('--seconds');
  const seconds = i > 0 ? Number(process.argv[i + 1]) || 2 : 2;
  const small = runB9Case(10, seconds);
  const large = runB9Case(10_000, seconds);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
  process.stdout.write('B9 token verification (TokenStore.verify, SQLite indexed lookup by SHA-256)\n');
  process.stdout.write(`  10 tokens:      valid ${fmt(small.validPerSec)}/s   unknown ${fmt(small.unknownPerSec)}/s\n`);
  process.stdout.write(`  10,000 tokens:  valid ${fmt(large.validPerSec)}/s   unknown ${fmt(large.unknownPerSec)}/s\n`);
  process.stdout.write(
    `  ratio 10k/10:   valid ${(large.validPerSec / small.validPerSec).toFixed(2)}x   unknown ${(large.unknownPerSec / small.unknownPerSec).toFixed(2)}x   (goal ≈ 1.0x)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
