import assert from 'node:assert/strict';
import { generateSecret, hashSecret, isWellFormed } from '../../../daemon/src/tokens/secret.js';

describe('token secrets', () => {
  it('are loki_ + 43 base62 chars of randomness + a 6-char checksum', () => {
    const s = generateSecret();
    assert.match(s, /^loki_[0-9A-Za-z]{49}$/);
    assert.ok(isWellFormed(s));
  });

  it('are different every time', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generateSecret()));
    assert.equal(seen.size, 200);
  });

  it('fail the checksum when any single character is changed', () => {
    const s = generateSecret();
    for (const i of [5, 20, 47, 53]) {
      const c = s[i] === 'A' ? 'B' : 'A';
      assert.equal(isWellFormed(s.slice(0, i) + c + s.slice(i + 1)), false, `position ${i}`);
    }
  });

  it('reject the wrong prefix, length or alphabet', () => {
    const s = generateSecret();
    assert.equal(isWellFormed('LOKI_' + s.slice(5)), false);
    assert.equal(isWellFormed(s + 'a'), false);
    assert.equal(isWellFormed(s.slice(0, -1)), false);
    assert.equal(isWellFormed(s.slice(0, 10) + '-' + s.slice(11)), false);
    assert.equal(isWellFormed(''), false);
  });

  it('hash to 32 bytes of SHA-256, stable for the same secret', () => {
    const s = generateSecret();
    assert.equal(hashSecret(s).length, 32);
    assert.deepEqual(hashSecret(s), hashSecret(s));
  });
});
