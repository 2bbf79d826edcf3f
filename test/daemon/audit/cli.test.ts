// `loki enterprise audit …` against a real AuditService on a real admin socket,
// mounted under an `enterprise` parent as program.ts mounts it.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { Command } from 'commander';
import { pino } from 'pino';
import { LokiError } from '../../../common/src/index.js';
import type { GlobalOptions } from '../../../cli/src/context.js';
import { registerAuditCommands } from '../../../cli/src/commands/audit.js';
import { auditConfigSchema } from '../../../daemon/src/audit/config.js';
import { createAuditRuntime, type AuditRuntime } from '../../../daemon/src/audit/runtime.js';
import { createAuditModule } from '../../../daemon/src/audit/grpc.js';
import { event, readLogLines, tempDir, writeLogLines } from './helpers.js';
import { captureOutput } from '../../helpers/capture.js';

async function runLoki(socket: string, args: string[]): Promise<{ out: string; exitCode: number }> {
  const program = new Command().name('loki').option('--socket <path>').exitOverride();
  const enterprise = program.command('enterprise').exitOverride();
  registerAuditCommands(enterprise, { globals: () => program.opts<GlobalOptions>() });
  const r = await captureOutput(() => program.parseAsync(['--socket', socket, 'enterprise', 'audit', ...args], { from: 'user' }));
  return { out: r.out, exitCode: r.exitCode };
}

describe('loki enterprise audit', () => {
  let home: string;
  let cleanup: () => void;
  let rt: AuditRuntime;
  let server: Server;
  let socket: string;

  beforeEach(async () => {
    ({ dir: home, cleanup } = tempDir());
    rt = await createAuditRuntime({ config: auditConfigSchema.parse({}), home, log: pino({ level: 'silent' }) });
    server = new Server();
    createAuditModule({ runtime: rt }).register(server, { log: pino({ level: 'silent' }), listener: { role: 'local-admin', localUid: 1000 } });
    socket = join(home, 'admin.sock');
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    await rt.audit.record(event('session.start', 1));
    await rt.audit.record(event('auth.fail', 2, { user: 'token:mallory', result: 'denied', reason: 'unknown token' }));
    await rt.audit.record(event('auth.fail', 3, { user: 'token:mallory', result: 'denied', reason: 'expired' }));
  });

  afterEach(async () => {
    server.forceShutdown();
    await rt.close();
    cleanup();
  });

  it('verify prints OK with the counts on an untouched log', async () => {
    const { out, exitCode } = await runLoki(socket, ['verify']);
    assert.equal(out, 'OK: 3 entries in 1 file verified (last seq 3)\n');
    assert.equal(exitCode, 0);
  });

  it('verify names the first bad entry and exits non-zero after an edit', async () => {
    const dir = join(home, 'dashboard', 'audit');
    const file = join(dir, readdirSync(dir)[0]!);
    const lines = readLogLines(file);
    lines[1] = lines[1]!.replace('unknown token', 'unknown tokeN');
    writeLogLines(file, lines);
    const { out, exitCode } = await runLoki(socket, ['verify']);
    assert.match(out, /^FAILED: audit-\d{4}-\d\d-\d\d\.jsonl line 2 \(seq 2\): MAC mismatch/);
    assert.equal(exitCode, 1);
  });

  it('summary --json counts by action, user and result', async () => {
    const { out } = await runLoki(socket, ['summary', '--since', '1h', '--json']);
    const s = JSON.parse(out);
    assert.equal(s.total, 3);
    assert.deepEqual(s.by_action, { 'session.start': 1, 'auth.fail': 2 });
    assert.deepEqual(s.by_user, { 'local:1000': 1, 'token:mallory': 2 });
    assert.deepEqual(s.by_result, { success: 1, denied: 2 });
  });

  it('tail --event auth.fail --json prints the matching entries oldest first, one per line', async () => {
    const { out } = await runLoki(socket, ['tail', '--event', 'auth.fail', '--json', '-n', '5']);
    const entries = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(entries.map((e) => [e.seq, e.reason]), [[2, 'unknown token'], [3, 'expired']]);
  });

  it('tail says what each entry was about: the action a policy decided and its rule, a task and its status, escaped', async () => {
    await rt.audit.record(event('policy.deny', 4, { user: 'session:s-4', result: 'denied', reason: 'blocked command', details: { normalized: 'rm -rf /\u001b[2J', rule: 'commands:blocked', profile: 'default' } }));
    await rt.audit.record(event('task.update', 5, { user: 'session:s-5', details: { task_id: 't\u202e1', status: 'failed' } }));
    await rt.audit.record(event('approval.decide', 6, { details: { approval_id: 'apr-1', decision: 'approved', normalized: 'git push', rule: 'commands:ask' } }));
    const { out } = await runLoki(socket, ['tail', '-n', '3']);
    const lines = out.trimEnd().split('\n');
    assert.equal(lines.length, 3, out);
    assert.match(lines[0]!, /policy\.deny .* denied +session:s-4 \(blocked command\)  rm -rf \/\\x1b\[2J \[commands:blocked\]$/);
    assert.match(lines[1]!, /task\.update .* session:s-5  task t\\u202e1 failed$/);
    assert.match(lines[2]!, /approval\.decide .* session:s-6  approved git push \[commands:ask\]$/);
    // Entries without such details keep their line as it was.
    const first = (await runLoki(socket, ['tail', '-n', '6'])).out.split('\n')[0]!;
    assert.match(first, /session\.start .* success session:s-1$/);
  });

  it('tail rejects a malformed --event before calling the daemon', async () => {
    await assert.rejects(runLoki(socket, ['tail', '--event', 'AUTH FAIL']), (e: unknown) => e instanceof LokiError && e.code === 'invalid_argument');
  });
});
