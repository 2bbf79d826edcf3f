// `loki sessions list` over both transports against a real lokid (and a real
// gateway for --url): without --limit it shows every session by following the
// pages; --limit N shows one page and how to get the next; bad values are usage
// errors that name the flag.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/src/daemon.js';
import { openSqliteStore } from '../../daemon/src/store/sqlite/index.js';
import { seededId, sessionRow } from '../daemon/store/helpers.js';
import { entryArgv } from '../helpers/entry.js';
import { buildTestGateway, generateToken, tempDir, type TestGateway } from '../gateway/helpers.js';

// More than one daemon page (500): `list` must follow next_page_token.
const N = 520;
const id = seededId;
const row = (i: number) => sessionRow(i, 'token:someone');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('loki sessions list pages', function () {
  this.timeout(180_000);
  let home: { dir: string; cleanup: () => void };
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  let gw: TestGateway;
  let url: string;
  let tokenFile: string;

  before(async () => {
    home = tempDir('loki-clip-');
    const store = openSqliteStore(join(home.dir, 'state', 'loki.db'));
    store.db.transaction(() => {
      for (let i = 1; i <= N; i++) {
        store.sessions.rows.insert(row(i));
        store.sessions.rows.transition(id(i), ['pending'], 'completed', 'done');
      }
    })();
    store.close();
    daemon = await startDaemon({ home: home.dir, env: { LOKI_HOME: home.dir }, logLevel: 'silent' });
    tokenFile = join(home.dir, 'token');
    writeFileSync(tokenFile, (await generateToken(daemon.paths.adminSocket, { name: 'cli-admin', role: 'admin' })).secret + '\n');
    chmodSync(tokenFile, 0o600);
    gw = await buildTestGateway({ socket: daemon.paths.gatewaySocket, raw: { rate_limit: { per_minute: 100_000, burst: 100_000, unauthenticated_per_minute: 100_000 } } });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await gw?.close();
    await daemon?.close();
    home?.cleanup();
  });

  for (const t of ['grpc', 'http'] as const) {
    const loki = (args: string[]): Promise<Run> =>
      new Promise((resolve) => {
        const conn = t === 'grpc' ? ['--socket', daemon.paths.adminSocket] : ['--url', url, '--token-file', tokenFile];
        execFile(process.execPath, [...entryArgv('cli'), ...conn, ...args], { env: { PATH: process.env.PATH ?? '', LOKI_CONFIG_DIR: join(home.dir, 'config') }, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr }),
        );
      });
    const json = async <T>(args: string[]): Promise<T> => {
      const r = await loki([...args, '--json']);
      assert.equal(r.code, 0, `loki ${args.join(' ')} (${t}): ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };

    describe(`over ${t}`, () => {
      it('lists every session without --limit, following the pages', async () => {
        const all = await json<{ sessions: { id: string }[] }>(['sessions', 'list', '--all']);
        assert.deepEqual(all.sessions.map((s) => s.id), Array.from({ length: N }, (_, i) => id(i + 1)));
      });

      it('shows one page with --limit and continues with --page-token', async () => {
        const p1 = await json<{ sessions: { id: string }[]; next_page_token: string | null }>(['sessions', 'list', '--all', '--limit', '3']);
        assert.deepEqual(p1.sessions.map((s) => s.id), [id(1), id(2), id(3)]);
        assert.ok(p1.next_page_token);
        const p2 = await json<{ sessions: { id: string }[] }>(['sessions', 'list', '--all', '--limit', '3', '--page-token', p1.next_page_token]);
        assert.deepEqual(p2.sessions.map((s) => s.id), [id(4), id(5), id(6)]);
        const table = await loki(['sessions', 'list', '--all', '--limit', '2']);
        assert.equal(table.code, 0, table.stderr);
        assert.match(table.stdout, /more: loki sessions list --all --limit 2 --page-token [A-Za-z0-9_-]+\n$/);
      });

      it('rejects a bad --limit or a stray --page-token, naming it', async () => {
        for (const [args, re] of [
          [['--limit', '0'], /positive integer/],
          [['--limit', 'ten'], /non-negative integer/],
          [['--limit', '501'], /page_size|limit/],
          [['--page-token', 'abc'], /--page-token needs --limit/],
          [['--limit', '2', '--page-token', 'AAAA'], /page_token/],
        ] as const) {
          const r = await loki(['sessions', 'list', '--all', ...args]);
          assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
          assert.ok(r.code === 2, `${args.join(' ')}: exit ${r.code} (usage)\n${r.stderr}`);
          assert.match(r.stderr, re, args.join(' '));
        }
      });
    });
  }
});
