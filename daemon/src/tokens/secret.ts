// The API token wire format: `loki_` + 43 base62 chars (32 bytes from the CSPRNG,
// 256 bits) + 6 base62 chars of CRC32 over the body. The fixed prefix and the
// checksum let secret scanners (and our own log scrubber) recognise a Loki token
// with almost no false positives, and let us reject typos before any lookup.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const TOKEN_PREFIX = 'loki_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LEN = 43; // ceil(256 / log2(62))
const CHECK_LEN = 6; // 62^6 > 2^32
const SHAPE = /^loki_[0-9A-Za-z]{49}$/;

function base62(value: bigint, width: number): string {
  let out = '';
  let v = value;
  while (v > 0n) {
    out = ALPHABET[Number(v % 62n)]! + out;
    v /= 62n;
  }
  return out.padStart(width, '0');
}

function checksum(body: string): string {
  return base62(BigInt(crc32(body)), CHECK_LEN);
}

/** A fresh secret; 32 random bytes encoded without loss (43 base62 digits cover 2^256). */
export function generateSecret(): string {
  const body = base62(BigInt('0x' + randomBytes(32).toString('hex')), BODY_LEN);
  return TOKEN_PREFIX + body + checksum(body);
}

/** Cheap, local check: right prefix, length, alphabet and checksum. */
export function isWellFormed(secret: string): boolean {
  if (secret.length !== TOKEN_PREFIX.length + BODY_LEN + CHECK_LEN || !SHAPE.test(secret)) return false;
  const body = secret.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LEN);
  return secret.slice(TOKEN_PREFIX.length + BODY_LEN) === checksum(body);
}

/** What the store keeps: SHA-256 of the whole secret (a 256-bit secret needs no salt or KDF). */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
