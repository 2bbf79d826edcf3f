import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { pino } from 'pino';
import { auditConfigSchema } from '../../../daemon/src/audit/config.js';
import { createAuditRuntime } from '../../../daemon/src/audit/runtime.js';
import { SyslogForwarder } from '../../../daemon/src/audit/syslog.js';
import type { AuditEntry } from '../../../daemon/src/audit/format.js';
import { Metadata } from '@grpc/grpc-js';
import { AuditServiceClient } from '../../../proto/gen/loki/v1/audit.js';
import { TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import { clientFor, startTestDaemon, unaryCall } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';
import { event, tempDir } from './helpers.js';

// RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] BOM MSG
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[loki@32473(?: [a-z_]+="(?:[^"\\\]]|\\.)*")+\]) \uFEFF(.*)$/s;

interface Received {
  messages: string[];
  wait(n: number): Promise<void>;
}

function collector(): Received & { push(m: string): void } {
  const messages: string[] = [];
  let waiters: { n: number; resolve: () => void }[] = [];
  return {
    messages,
    push(m) {
      messages.push(m);
      waiters = waiters.filter((w) => (messages.length >= w.n ? (w.resolve(), false) : true));
    },
    wait(n) {
      return messages.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}

/** RFC 6587 octet-counting parser, as a SIEM's TCP input does it. */
function octetCounted(sock: Socket, onMessage: (m: string) => void): void {
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) return;
      const len = Number(buf.subarray(0, sp).toString());
      if (buf.length < sp + 1 + len) return;
      onMessage(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function recordThree(home: string, syslog: Record<string, unknown>, got: Received): Promise<void> {
  const config = auditConfigSchema.parse({ syslog });
  const rt = await createAuditRuntime({ config, home, log: pino({ level: 'silent' }) });
  await rt.audit.record(event('session.start', 1));
  await rt.audit.record(event('auth.fail', 2, { user: 'token:mallory', result: 'denied', reason: 'unknown "token" ]' }));
  await rt.audit.record(event('sandbox.shell', 3, { result: 'error', reason: 'container gone' }));
  await got.wait(3);
  await rt.close();
}

function checkMessages(got: Received): void {
  const parsed = got.messages.map((m) => {
    const match = RFC5424.exec(m);
    assert.ok(match, `not RFC 5424: ${m}`);
    return { pri: Number(match[1]), ts: match[2], app: match[4], msgid: match[6], sd: match[7]!, body: JSON.parse(match[8]!) as AuditEntry };
  });
  // facility 13 (log audit): info for success, warning for denied, err for error.
  assert.deepEqual(parsed.map((p) => p.pri), [13 * 8 + 6, 13 * 8 + 4, 13 * 8 + 3]);
  assert.deepEqual(parsed.map((p) => p.msgid), ['session.start', 'auth.fail', 'sandbox.shell']);
  assert.deepEqual(parsed.map((p) => p.body.seq), [1, 2, 3]);
  assert.equal(parsed[0]!.app, 'lokid');
  assert.equal(parsed[0]!.ts, parsed[0]!.body.timestamp);
  assert.match(parsed[1]!.sd, /user="token:mallory"/);
  assert.match(parsed[1]!.sd, /result="denied"/);
  assert.match(parsed[1]!.sd, new RegExp(`mac="${parsed[1]!.body.mac}"`));
  assert.equal(parsed[1]!.body.reason, 'unknown "token" ]');
}

describe('SIEM forwarding (RFC 5424 syslog)', () => {
  let home: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir: home, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('delivers each durable entry over UDP', async () => {
    const got = collector();
    const udp = createSocket('udp4');
    udp.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    try {
      await recordThree(home, { host: '127.0.0.1', port: udp.address().port, protocol: 'udp' }, got);
      checkMessages(got);
    } finally {
      udp.close();
    }
  });

  it('delivers over TCP with octet-counting framing', async () => {
    const got = collector();
    const server = createTcpServer((s) => octetCounted(s, (m) => got.push(m)));
    const port = await listen(server);
    try {
      await recordThree(home, { host: '127.0.0.1', port, protocol: 'tcp' }, got);
      checkMessages(got);
    } finally {
      server.close();
    }
  });

  it('delivers over TLS to a collector whose CA is configured', async () => {
    const dir = join(home, 'tls');
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    const got = collector();
    const server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (s) => octetCounted(s, (m) => got.push(m)));
    const port = await listen(server);
    try {
      await recordThree(home, { host: 'localhost', port, protocol: 'tls', ca_file: join(dir, 'cert.pem') }, got);
      checkMessages(got);
    } finally {
      server.close();
    }
  });

  it('never blocks when the collector is down: the bounded queue counts drops', async () => {
    // A port that was just free: nothing listens there.
    const probe = createTcpServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const fwd = new SyslogForwarder({ host: '127.0.0.1', port, protocol: 'tcp', log: pino({ level: 'silent' }), maxQueue: 5 });
    const entry = { ...event('session.start', 1), details: {}, seq: 1, prev: '0', mac: 'a', timestamp: new Date().toISOString() } as AuditEntry;
    const started = Date.now();
    fwd.send(Array.from({ length: 12 }, (_, i) => ({ ...entry, seq: i + 1 })));
    assert.ok(Date.now() - started < 200, 'send returned at once');
    assert.deepEqual(fwd.stats(), { sent: 0, dropped: 7, queued: 5 });
    fwd.close();
  });

  it('keeps the daemon\'s own entries when a compromised gateway floods the queue with its reports while the collector is away', async function () {
    this.timeout(60_000);
    // A port that was just free: the collector is away during the flood, as a slow SIEM would be.
    const probe = createTcpServer();
    const port = await listen(probe);
    await new Promise((r) => probe.close(r));
    const d = await startTestDaemon({ home: shortTempDir('h16-syslog-flood'), overrides: { audit: { syslog: { host: '127.0.0.1', port, protocol: 'tcp', max_queue: 20 } } } });
    const got = collector();
    const server = createTcpServer((sock) => octetCounted(sock, (m) => got.push(m)));
    const gw = clientFor(AuditServiceClient, d.paths.gatewaySocket);
    const admin = clientFor(TokenServiceClient, d.paths.adminSocket);
    try {
      // The attacker needs no credential: these are recorded as the gateway's own reports.
      for (let i = 0; i < 60; i++) {
        await unaryCall(gw.record.bind(gw), { action: 'auth.fail', resource: `flood-${i}`, result: 'denied', reason: 'flood', detailsJson: '' }, new Metadata());
      }
      await unaryCall(admin.generate.bind(admin), { name: 'minted-during-flood', role: 'admin', scopes: [], expiresDays: 1 });
      // The collector comes back: what the queue kept is delivered.
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      const deadline = Date.now() + 40_000;
      while (!got.messages.some((m) => m.includes('minted-during-flood')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const actions = got.messages.map((m) => /\[loki@32473 [^\]]*action="([^"]+)"/.exec(m)?.[1]);
      assert.ok(got.messages.some((m) => m.includes('token.generate') && m.includes('minted-during-flood')), `token.generate never reached the collector; got ${actions.join(', ')}`);
      assert.ok(actions.filter((a) => a === 'auth.fail').length < 20, 'the reports were bounded by the queue');
    } finally {
      gw.close();
      admin.close();
      server.close();
      await d.cleanup();
    }
  });
});
