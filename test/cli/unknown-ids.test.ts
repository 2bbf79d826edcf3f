// The same mistake with an id gets the same answer over the admin socket and
// through a gateway: the real `loki` CLI, run once against lokid's admin socket
// and once with --url against a real gateway, exits with the same code and says
// the same line. A well-formed id (or prefix) that names nothing is not found
// (exit 5); a value that is no id at all is invalid (exit 2), worded as lokid and
// the gateway's HTTP API word it (common/src/refs.ts).
import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SessionServiceClient } from '../../proto/gen/loki/v1/sessions.js';
import { clientFor, unaryCall } from '../helpers/daemon.js';
import { lokiProcess, runEntry, shortTempDir, type ProcessRun } from '../helpers/entry.js';
import { buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from '../gateway/helpers.js';

const PORT = 22_140;
const INVALID = 2;
const NOT_FOUND = 5;

/** [argv, exit code, the exact `loki: …` line both transports print]. */
type Case = [string[], number, string];

const CASES: Case[] = [
  [['sessions', 'show', 'zzzz'], INVALID, '"zzzz" is not a session id (ses- and 12 hex digits)'],
  [['sessions', 'logs', 'not-a-session'], INVALID, '"not-a-session" is not a session id (ses- and 12 hex digits)'],
  [['session', 'diff', '../../etc'], INVALID, '"../../etc" is not a session id (ses- and 12 hex digits)'],
  [['sessions', 'show', 'abc'], NOT_FOUND, 'no session matches "abc" (see `loki sessions list --all`)'],
  [['sessions', 'logs', 'abc'], NOT_FOUND, 'no session matches "abc" (see `loki sessions list --all`)'],
  [['sessions', 'show', 'ses-000000000000'], NOT_FOUND, 'no session "ses-000000000000"'],
  [['approvals', 'show', 'zzzz'], INVALID, '"zzzz" is not an approval id (apr- and a UUID)'],
  [['approvals', 'show', 'abc'], NOT_FOUND, 'no approval matches "abc" (see `loki approvals list --status all`)'],
  [['approvals', 'approve', 'apr-0000'], NOT_FOUND, 'no approval matches "apr-0000" (see `loki approvals list --status all`)'],
  [['approvals', 'show', 'apr-00000000-0000-0000-0000-000000000000'], NOT_FOUND, 'no approval with id "apr-00000000-0000-0000-0000-000000000000"'],
  [['approvals', 'reject', 'apr-00000000-0000-0000-0000-000000000000'], NOT_FOUND, 'no approval with id "apr-00000000-0000-0000-0000-000000000000"'],
  [['sandbox', 'status', 'Web'], INVALID, '"Web" is not a sandbox id (sbx-…) or name (1-63 of a-z, 0-9, "_", "." and "-", starting with a letter or digit)'],
];

describe('unknown and malformed ids: one answer through either transport', function () {
  this.timeout(120_000);
  let daemon: TestDaemon;
  let gw: TestGateway;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    daemon = await startTestDaemon();
    gw = await buildTestGateway({ socket: daemon.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: PORT });
    dir = shortTempDir('lku');
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${(await generateToken(daemon.adminSocket, { name: 'ids-admin', role: 'admin' })).secret}\n`);
    chmodSync(tokenFile, 0o600);
  });

  after(async () => {
    await gw?.close();
    await daemon?.close();
  });

  const local = (argv: string[]) => lokiProcess(daemon.home, daemon.adminSocket, argv);
  // A login file of the machine running the tests must not leak in.
  const remote = (argv: string[]) => runEntry('cli', ['--url', `http://127.0.0.1:${PORT}`, '--token-file', tokenFile, ...argv], { LOKI_CONFIG_DIR: join(dir, 'config') });

  for (const [argv, code, line] of CASES) {
    it(`loki ${argv.join(' ')}: exit ${code}, "${line.slice(0, 50)}…", locally and remotely`, async () => {
      const runs: [string, ProcessRun][] = [['admin socket', await local(argv)], ['gateway', await remote(argv)]];
      for (const [door, r] of runs) {
        assert.equal(r.err.trim(), `loki: ${line}`, `${door}: ${r.err}`);
        assert.equal(r.code, code, `${door}: ${r.err}`);
      }
    });
  }

  it('answers a malformed id on the HTTP API and on gRPC with the same words as the CLI', async () => {
    const auth = { authorization: `Bearer ${(await generateToken(daemon.adminSocket, { name: 'ids-http', role: 'admin' })).secret}` };
    for (const [url, message] of [
      ['/api/sessions/zzzz', '"zzzz" is not a session id (ses- and 12 hex digits)'],
      ['/api/sessions/zzzz/events?follow=false', '"zzzz" is not a session id (ses- and 12 hex digits)'],
      ['/api/approvals/zzzz', '"zzzz" is not an approval id (apr- and a UUID)'],
      // A query or body field is named; a path segment is the id itself.
      ['/api/approvals?session_id=zzzz', 'session_id: "zzzz" is not a session id (ses- and 12 hex digits)'],
      ['/api/sandboxes/Web', '"Web" is not a sandbox id (sbx-…) or name (1-63 of a-z, 0-9, "_", "." and "-", starting with a letter or digit)'],
      ['/api/projects/-x', '"-x" is not a project id (prj-…), name or alias'],
    ] as const) {
      const r = await gw.app.inject({ url, headers: auth });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.deepEqual([r.json().error.code, r.json().error.message], ['invalid_argument', message], url);
    }
    const c = clientFor(SessionServiceClient, daemon.adminSocket);
    try {
      await assert.rejects(unaryCall(c.get.bind(c), { id: 'zzzz' }, new Metadata()), (e: Error & { code?: number; details?: string }) => {
        assert.equal(e.code, status.INVALID_ARGUMENT);
        assert.equal(e.details, '"zzzz" is not a session id (ses- and 12 hex digits)');
        return true;
      });
    } finally {
      c.close();
    }
  });
});
