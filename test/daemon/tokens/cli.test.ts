// `loki enterprise token …` against a real TokenService on a real admin socket.
// The commands are mounted under an `enterprise` parent exactly as program.ts
// will mount them; stdout is captured to check Loki Mode's output format.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import type { GlobalOptions } from '../../../cli/src/context.js';
import { registerTokenCommands } from '../../../cli/src/commands/tokens.js';
import { createTokenModule } from '../../../daemon/src/tokens/grpc.js';
import { makeFixture, type Fixture } from './helpers.js';
import { captureOutput } from '../../helpers/capture.js';

async function runLoki(socket: string, args: string[]): Promise<string> {
  const program = new Command().name('loki').option('--socket <path>').exitOverride();
  const enterprise = program.command('enterprise').exitOverride();
  registerTokenCommands(enterprise, { globals: () => program.opts<GlobalOptions>() });
  return (await captureOutput(() => program.parseAsync(['--socket', socket, 'enterprise', 'token', ...args], { from: 'user' }))).out;
}

describe('loki enterprise token', () => {
  let f: Fixture;
  let server: Server;
  let socket: string;

  beforeEach(async () => {
    f = makeFixture();
    f.clock.now = Date.now();
    server = new Server();
    createTokenModule({ store: f.store, audit: { record: async () => {} } }).register(server, {
      log: f.log,
      listener: { role: 'local-admin', localUid: 1000 },
    });
    socket = join(f.home, 'admin.sock');
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
  });

  afterEach(async () => {
    server.forceShutdown();
    await f.cleanup();
  });

  it('generate prints exactly Loki Mode\'s block, and the printed token verifies', async () => {
    const out = await runLoki(socket, ['generate', 'ci-bot', '--scopes', 'read,write', '--expires', '30']);
    const expires = new Date(f.clock.now + 30 * 86_400_000).toISOString().slice(0, 10);
    const m = /^Token generated successfully!\n\nName:    ci-bot\nID:      (tok-[0-9a-f]{12})\nToken:   (loki_[0-9A-Za-z]{49})\nScopes:  read, write\nExpires: (\d{4}-\d\d-\d\d)\n\nIMPORTANT: Save this token - it won't be shown again!\n$/.exec(out);
    assert.ok(m, `unexpected output:\n${out}`);
    assert.equal(m[3], expires);
    const r = await f.store.verify(m[2]!);
    assert.ok(r.ok);
    assert.equal(r.token.id, m[1]);
  });

  it('generate with a role prints the role\'s scopes and "never" for --expires never', async () => {
    const out = await runLoki(socket, ['generate', 'ops', '--role', 'operator', '--expires', 'never']);
    assert.match(out, /\nScopes:  control, write, read\nExpires: never\n/);
  });

  it('list shows a table of active tokens, --all adds revoked ones, --json prints DTOs', async () => {
    await runLoki(socket, ['generate', 'keep', '--role', 'viewer']);
    await runLoki(socket, ['generate', 'drop', '--role', 'auditor']);
    await runLoki(socket, ['revoke', 'drop']);
    const table = (await runLoki(socket, ['list'])).trimEnd().split('\n');
    assert.match(table[0]!, /^NAME +ID +ROLE +SCOPES +CREATED +EXPIRES +STATUS +LAST-USED$/);
    assert.equal(table.length, 2);
    assert.match(table[1]!, /^keep +tok-[0-9a-f]{12} +viewer +read +\d{4}-\d\d-\d\d +\d{4}-\d\d-\d\d +active +never$/);
    const all = await runLoki(socket, ['list', '--all']);
    assert.match(all, /\ndrop +tok-[0-9a-f]{12} +auditor +read,audit .* revoked +never\n/);
    const json = (JSON.parse(await runLoki(socket, ['list', '--all', '--json'])) as { tokens: Record<string, unknown>[] }).tokens;
    // The CLI reports its uid; the daemon records it as the owner.
    const me = `local:${process.getuid!()}`;
    assert.deepEqual(
      json.map((t) => [t.name, t.status, t.role, t.owner]),
      [
        ['keep', 'active', 'viewer', me],
        ['drop', 'revoked', 'auditor', me],
      ],
    );
    assert.ok(json.every((t) => !('secret' in t) && !('hash' in t)));
  });

  it('revoke by name or id confirms, and an unknown name fails with token_not_found', async () => {
    await runLoki(socket, ['generate', 'x']);
    assert.match(await runLoki(socket, ['revoke', 'x']), /^Token revoked: x \(tok-[0-9a-f]{12}\)\n$/);
    // A second revoke by name finds nothing unrevoked, and says the name's token is already revoked.
    await assert.rejects(runLoki(socket, ['revoke', 'x']), (err: unknown) => err instanceof LokiError && err.code === 'token_not_found' && err.exitCode === 5 && /no unrevoked token named "x": tok-[0-9a-f]{12} with that name is already revoked/.test(err.message));
    await assert.rejects(runLoki(socket, ['revoke', 'never-was']), (err: unknown) => err instanceof LokiError && err.code === 'token_not_found' && /no token named or with id "never-was"/.test(err.message));
  });

  it('rejects a bad --expires or an unknown scope with invalid_argument (exit code 2)', async () => {
    await assert.rejects(runLoki(socket, ['generate', 'x', '--expires', '0']), (err: unknown) => err instanceof LokiError && err.exitCode === 2);
    await assert.rejects(runLoki(socket, ['generate', 'x', '--expires', '1.5']), (err: unknown) => err instanceof LokiError && err.exitCode === 2);
    await assert.rejects(
      runLoki(socket, ['generate', 'x', '--scopes', 'read,deploy']),
      (err: unknown) => err instanceof LokiError && err.code === 'invalid_argument' && /"deploy"/.test(err.message),
    );
    assert.equal((await f.store.list({ all: true })).length, 0);
  });

  it('says the daemon is not running when nothing listens on the socket', async () => {
    await assert.rejects(
      runLoki(join(f.home, 'nowhere.sock'), ['list']),
      (err: unknown) => err instanceof LokiError && err.code === 'daemon_unavailable',
    );
  });
});
