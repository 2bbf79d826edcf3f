// The optional TCP listener is mutual TLS only, and the caller's role comes
// from the client certificate: a cert naming an allowed gateway gets the
// gateway role; any other cert, or none, gets nothing.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { BatchServiceClient, type BatchedResult } from '../../../proto/gen/loki/v1/batch.js';
import { GetStatusResponse, SystemServiceClient, SystemServiceService } from '../../../proto/gen/loki/v1/system.js';
import { shortTempDir } from '../../helpers/entry.js';
import { collectStream, errorCode, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { makeMtlsPki } from '../../helpers/pki.js';

describe('mTLS TCP listener', function () {
  this.timeout(60_000);
  let pki: string;
  let d: Awaited<ReturnType<typeof startTestDaemon>>;

  before(async () => {
    pki = shortTempDir('lkpki');
    makeMtlsPki(pki, 'DNS:localhost,IP:127.0.0.1');
    d = await startTestDaemon({
      overrides: {
        tcp: { listen: '127.0.0.1:0', cert: join(pki, 'lokid.crt'), key: join(pki, 'lokid.key'), client_ca: join(pki, 'ca.crt') },
      },
    });
    assert.ok(d.tcpPort && d.tcpPort > 0);
  });

  after(async () => {
    await d?.cleanup();
    rmSync(pki, { recursive: true, force: true });
  });

  function client(name?: string) {
    const ca = readFileSync(join(pki, 'ca.crt'));
    const creds = name
      ? credentials.createSsl(ca, readFileSync(join(pki, `${name}.key`)), readFileSync(join(pki, `${name}.crt`)))
      : credentials.createSsl(ca);
    return new SystemServiceClient(`127.0.0.1:${d.tcpPort}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
  }

  let ciSecret: string | undefined;
  /** A gateway call for the real token `ci`, with a forged subject the daemon must ignore. */
  async function withIdentity(): Promise<Metadata> {
    ciSecret ??= (await d.tokens.generate({ name: 'ci', role: 'viewer', expiresDays: 0, owner: 'local:0' })).secret;
    const md = new Metadata();
    md.set('x-loki-credential', ciSecret);
    md.set('x-loki-subject', 'oidc:ceo@example.com');
    return md;
  }

  it('gives a client certificate naming loki-gateway the gateway role with forwarded identity', async () => {
    const c = client('loki-gateway');
    try {
      const s = await unaryCall(c.getStatus.bind(c), {}, await withIdentity());
      assert.equal(s.callerRole, 'gateway');
      assert.equal(s.callerSubject, 'token:ci');
    } finally {
      c.close();
    }
  });

  it('refuses a valid certificate that does not name an allowed gateway', async () => {
    const c = client('intruder');
    try {
      await assert.rejects(unaryCall(c.getStatus.bind(c), {}, await withIdentity()), (e: unknown) => (e as { code: number }).code === 7 && errorCode(e) === 'permission_denied');
    } finally {
      c.close();
    }
  });

  /** A batch of GetStatus calls for the real token `ci`, over TCP with the named client certificate. */
  async function batchAs(name: string): Promise<BatchedResult[]> {
    const ca = readFileSync(join(pki, 'ca.crt'));
    const c = new BatchServiceClient(`127.0.0.1:${d.tcpPort}`, credentials.createSsl(ca, readFileSync(join(pki, `${name}.key`)), readFileSync(join(pki, `${name}.crt`))), { 'grpc.ssl_target_name_override': 'localhost' });
    try {
      const metadata = (await withIdentity()).getMap() as Record<string, string>;
      const calls = [0, 1].map((id) => ({ id, method: SystemServiceService.getStatus.path, request: Buffer.alloc(0), metadata }));
      return await collectStream<BatchedResult>(c.call({ calls }, new Metadata(), { deadline: Date.now() + 20_000 }));
    } finally {
      c.close();
    }
  }

  it('serves BatchService to the gateway certificate, each call as its own credential', async () => {
    const rs = await batchAs('loki-gateway');
    assert.equal(rs.length, 2);
    for (const r of rs) assert.equal(GetStatusResponse.decode(r.response).callerSubject, 'token:ci');
  });

  it('refuses a batch from a valid certificate that does not name an allowed gateway, before running any call', async () => {
    await assert.rejects(batchAs('intruder'), (e: unknown) => (e as { code: number }).code === 7 && errorCode(e) === 'permission_denied');
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    const c = client();
    try {
      await assert.rejects(unaryCall(c.getStatus.bind(c), {}, await withIdentity()), (e: unknown) => (e as { code: number }).code === 14);
    } finally {
      c.close();
    }
  });
});
