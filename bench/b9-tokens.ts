// B9: token verification throughput with 10 vs 10,000 tokens in the store.
// Verification is an indexed lookup by SHA-256, so the goal is a ratio ≈ 1.0×.
// Also prints the daemon's real per-call path for a token verified a moment ago
// (CredentialVerifier's cache hit), which never reaches the store.
// Run: npx tsx bench/b9-tokens.ts [--seconds N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createCredentialVerifier } from '../daemon/src/auth/verifier.js';
import { openSqliteStore } from '../daemon/src/store/sqlite/index.js';
import { TOKENS_CONFIG_DEFAULTS } from '../daemon/src/tokens/config.js';
import { TokenStore } from '../daemon/src/tokens/store.js';
import { generateSecret } from '../daemon/src/tokens/secret.js';

export interface B9Result {
  tokens: number;
  validPerSec: number;
  unknownPerSec: number;
  /** CredentialVerifier.verify answered from its cache. */
  cachedPerSec: number;
}

/** Calls awaited one after another, as one connection's requests are. */
async function measure(seconds: number, fn: (i: number) => Promise<void>): Promise<number> {
  // Warm up the JIT and SQLite's page cache before timing.
  for (let i = 0; i < 2000; i++) await fn(i);
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < deadline) {
    for (let j = 0; j < 500; j++) await fn(n++);
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

export async function runB9Case(count: number, seconds: number): Promise<B9Result> {
  const home = mkdtempSync(join(tmpdir(), 'loki-b9-'));
  const sq = openSqliteStore(join(home, 'loki.db'));
  const db = sq.db;
  const store = new TokenStore({
    repo: sq.tokens,
    config: { ...TOKENS_CONFIG_DEFAULTS, max_active_per_user: 10_000 },
    log: pino({ level: 'silent' }),
  });
  try {
    const pending: Promise<{ secret: string }>[] = [];
    // One outer transaction: setup cost only, it does not change the lookup path.
    // The SQLite repository inserts synchronously when generate calls it, so every
    // insert lands inside this transaction; the promises only carry the results.
    db.transaction(() => {
      for (let i = 0; i < count; i++) pending.push(store.generate({ name: `b9-${i}`, owner: `bench:${i % 100}` }));
    })();
    const secrets = (await Promise.all(pending)).map((g) => g.secret);
    db.pragma('wal_checkpoint(TRUNCATE)');
    // Sample across the whole set so a large store is not only probed at one spot.
    const sample = Array.from({ length: 64 }, (_, i) => secrets[Math.floor((i * count) / 64) % count]!);
    const unknown = Array.from({ length: 64 }, () => generateSecret());
    const validPerSec = await measure(seconds, async (i) => {
      if (!(await store.verify(sample[i & 63]!)).ok) throw new Error('bench token did not verify');
    });
    const unknownPerSec = await measure(seconds, async (i) => {
      if ((await store.verify(unknown[i & 63]!)).ok) throw new Error('unknown token verified');
    });
    // A window longer than the run: every timed call after the warm-up is a hit.
    const verifier = createCredentialVerifier({ tokens: store, cacheMs: 3_600_000 });
    const cachedPerSec = await measure(seconds, async (i) => {
      await verifier.verify(sample[i & 63]!);
    });
    return { tokens: count, validPerSec, unknownPerSec, cachedPerSec };
  } finally {
    await store.close();
    db.close();
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--seconds');
  const seconds = i > 0 ? Number(process.argv[i + 1]) || 2 : 2;
  const small = await runB9Case(10, seconds);
  const large = await runB9Case(10_000, seconds);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
  process.stdout.write('B9 token verification (TokenStore.verify, SQLite indexed lookup by SHA-256)\n');
  process.stdout.write(`  10 tokens:      valid ${fmt(small.validPerSec)}/s   unknown ${fmt(small.unknownPerSec)}/s\n`);
  process.stdout.write(`  10,000 tokens:  valid ${fmt(large.validPerSec)}/s   unknown ${fmt(large.unknownPerSec)}/s\n`);
  process.stdout.write(
    `  ratio 10k/10:   valid ${(large.validPerSec / small.validPerSec).toFixed(2)}x   unknown ${(large.unknownPerSec / small.unknownPerSec).toFixed(2)}x   (goal ≈ 1.0x)\n`,
  );
  process.stdout.write(
    `  cache hit (CredentialVerifier, 10,000 tokens): ${fmt(large.cachedPerSec)}/s   ${(large.cachedPerSec / large.validPerSec).toFixed(1)}x the store lookup\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
