// Loopback ports for tests that need one known before they listen.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback port that is free right now (for an issuer that is not up yet, or a gateway URL needed in
 * advance). LOKI_TEST_PORTS=FROM-TO keeps it within that range (a machine shared by several test runs).
 */
export async function freePort(): Promise<number> {
  const range = /^(\d+)-(\d+)$/.exec(process.env.LOKI_TEST_PORTS ?? '');
  const candidates = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i).sort(() => Math.random() - 0.5) : [0];
  for (const want of candidates) {
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(want, '127.0.0.1', () => resolve(true));
    });
    if (!ok) continue;
    const { port } = s.address() as AddressInfo;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    return port;
  }
  throw new Error(`no free port in LOKI_TEST_PORTS=${process.env.LOKI_TEST_PORTS}`);
}
