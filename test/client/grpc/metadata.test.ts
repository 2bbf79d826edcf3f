// The forwarded identity's metadata: printable ASCII only (the daemon drops
// anything else), 256 characters for the request id, subject and address, and
// up to 16 KiB without spaces for a credential (JWTs are long).
import { strict as assert } from 'node:assert';
import { metadataFor } from '../../../client/src/grpc/daemon-client-wire.js';

const get = (md: ReturnType<typeof metadataFor>, k: string) => md.get(k)[0];

describe('metadataFor', () => {
  it('sends every printable field', () => {
    const md = metadataFor({ requestId: 'r-1', subject: 'token:ci bot', clientIp: '127.0.0.1', credential: 'lk_abc.DEF~' });
    assert.equal(get(md, 'x-loki-request-id'), 'r-1');
    assert.equal(get(md, 'x-loki-subject'), 'token:ci bot');
    assert.equal(get(md, 'x-loki-client-ip'), '127.0.0.1');
    assert.equal(get(md, 'x-loki-credential'), 'lk_abc.DEF~');
  });

  it('leaves out absent, empty, non-ASCII, control-character and over-long values', () => {
    const md = metadataFor({ requestId: '', subject: 'tökén', clientIp: 'a\nb', credential: 'has space' });
    assert.deepEqual(Object.keys(md.getMap()), []);
    assert.equal(get(metadataFor({ requestId: 'x'.repeat(257) }), 'x-loki-request-id'), undefined);
    assert.equal(get(metadataFor({ requestId: 'x'.repeat(256) }), 'x-loki-request-id'), 'x'.repeat(256));
    assert.equal(get(metadataFor({ requestId: 'r', subject: '\x7f' }), 'x-loki-subject'), undefined);
  });

  it('takes a credential up to 16 KiB (a JWT) but not beyond', () => {
    const jwt = `${'a'.repeat(8000)}.${'b'.repeat(8000)}.c`;
    assert.equal(get(metadataFor({ requestId: 'r', credential: jwt }), 'x-loki-credential'), jwt);
    assert.equal(get(metadataFor({ requestId: 'r', credential: 'x'.repeat(16385) }), 'x-loki-credential'), undefined);
  });
});
