// `loki policy …` and `loki approvals …` against a real PolicyService on a real
// admin socket; stdout is captured to check what the operator sees.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { Command } from 'commander';
import type { GlobalOptions } from '../../../cli/src/context.js';
import { registerApprovalCommands } from '../../../cli/src/commands/approvals.js';
import { registerPolicyCommands } from '../../../cli/src/commands/policy.js';
import type { LokiError } from '../../../common/src/index.js';
import { ApprovalStore } from '../../../daemon/src/policy/approvals.js';
import { buildPolicyEngine } from '../../../daemon/src/policy/config.js';
import { createPolicyModule } from '../../../daemon/src/policy/grpc.js';
import { PolicyService } from '../../../daemon/src/policy/service.js';
import { openSqliteStore, type SqliteStore } from '../../../daemon/src/store/sqlite/index.js';
import { quietLogger, tempDir, type TempDir } from './helpers.js';
import { captureOutput } from '../../helpers/capture.js';

async function runLoki(socket: string, args: string[]): Promise<string> {
  const program = new Command().name('loki').option('--socket <path>').exitOverride();
  const ctx = { globals: () => program.opts<GlobalOptions>() };
  registerPolicyCommands(program, ctx);
  registerApprovalCommands(program, ctx);
  for (const c of program.commands) c.exitOverride();
  return (await captureOutput(() => program.parseAsync(['--socket', socket, ...args], { from: 'user' }))).out;
}

describe('loki policy and loki approvals', function () {
  let tmp: TempDir;
  let db: SqliteStore;
  let store: ApprovalStore;
  let service: PolicyService;
  let server: Server;
  let socket: string;

  beforeEach(async function () {
    tmp = tempDir();
    db = openSqliteStore(join(tmp.path, 'loki.db'));
    const { engine, config } = buildPolicyEngine({ blocked_commands: ['npm publish'] });
    store = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: 60_000, onTimeout: 'deny', fourEyes: false, ownerOf: async () => 'local:1000' });
    service = new PolicyService({ engine, approvals: store, audit: { record: async () => {} }, log: quietLogger() });
    server = new Server();
    createPolicyModule({ service, ownerOf: async () => 'local:1000', settingsOf: async () => undefined, config }).register(server, { log: quietLogger(), listener: { role: 'local-admin', localUid: 1000 } });
    socket = join(tmp.path, 'admin.sock');
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  });

  afterEach(function () {
    server.forceShutdown();
    service.close();
    store.close();
    db.close();
    tmp.cleanup();
  });

  it('policy check prints the decision, the deciding rule and the normalized form', async function () {
    const out = await runLoki(socket, ['policy', 'check', "sudo '/bin/rm' --recursive --force /usr/.."]);
    assert.match(out, /^decision: +deny$/m);
    assert.match(out, /^rule: +builtin:rm-root$/m);
    assert.match(out, /^normalized: +rm -r -f \/$/m);
    const json = JSON.parse(await runLoki(socket, ['policy', 'check', 'npm publish --tag next', '--json'])) as { decision: string; rule: string };
    assert.deepEqual([json.decision, json.rule], ['deny', 'env:LOKI_BLOCKED_COMMANDS[0]']);
    const strict = JSON.parse(await runLoki(socket, ['policy', 'check', 'eval "$X"', '--profile', 'strict', '--json'])) as { decision: string };
    assert.equal(strict.decision, 'deny');
    const path = JSON.parse(await runLoki(socket, ['policy', 'check', '/etc/passwd', '--write', '--json'])) as { decision: string; rule: string };
    assert.deepEqual([path.decision, path.rule], ['deny', 'paths:outside-allowed']);
  });

  it('approvals approve says a two-person approval is still pending and how many approvals it lacks (not "pending by ?")', async function () {
    const { engine, config } = buildPolicyEngine({ rules: [{ id: 'two-person-deploy', effect: 'ask', pattern: 'kubectl apply', approvers: 2 }] });
    const twoStore = new ApprovalStore({ repo: db.approvals, log: quietLogger(), timeoutMs: 60_000, onTimeout: 'deny', fourEyes: false, ownerOf: async () => 'local:1000', requirementFor: (r) => (r === 'two-person-deploy' ? { approvers: 2, distinctFromStarter: false } : undefined) });
    const two = new PolicyService({ engine, approvals: twoStore, audit: { record: async () => {} }, log: quietLogger() });
    const twoServer = new Server();
    createPolicyModule({ service: two, ownerOf: async () => 'local:1000', settingsOf: async () => undefined, config }).register(twoServer, { log: quietLogger(), listener: { role: 'local-admin', localUid: 1000 } });
    const twoSocket = join(tmp.path, 'admin2.sock');
    await new Promise<void>((resolve, reject) => twoServer.bindAsync(`unix:${twoSocket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    try {
      const a = await two.decide({ kind: 'shell', command: 'kubectl apply -f x.yaml' }, { sessionId: 's1' }, { subject: 'session:s1' });
      assert.equal(a.decision, 'ask');
      const out = await runLoki(twoSocket, ['approvals', 'approve', a.approvalId]);
      assert.match(out, new RegExp(`^${a.approvalId} pending: 1 of 2 approvals \\(local:\\d+\\); the action runs only after 1 more\n {2}hash: +[0-9a-f]{64}\n {2}action: kubectl apply -f x.yaml\n`));
      assert.doesNotMatch(out, /by \?/);
    } finally {
      twoServer.forceShutdown();
      two.close();
      twoStore.close();
    }
  });

  it('policy show lists profiles and rules', async function () {
    const out = await runLoki(socket, ['policy', 'show', '--profile', 'default']);
    assert.match(out, /default profile: default/);
    assert.match(out, /builtin:fork-bomb|builtin:rm-root/);
    assert.match(out, /approvals: +timeout 900s → deny/);
  });

  it('approvals list/approve/reject decide pending requests as the local admin', async function () {
    const a = await service.decide({ kind: 'shell', command: 'git push -f' }, { sessionId: 's1' }, { subject: 'session:s1' });
    const b = await service.decide({ kind: 'shell', command: 'git push --force-with-lease' }, { sessionId: 's1' }, { subject: 'session:s1' });
    const list = await runLoki(socket, ['approvals', 'list']);
    assert.match(list, new RegExp(`${a.approvalId}\\s+s1\\s+pending`));
    assert.match(await runLoki(socket, ['approvals', 'approve', a.approvalId, '--comment', 'fine']), /approved by local:\d+\n {2}hash: +[0-9a-f]{64}\n {2}action: git push -f\n/);
    const rejected = JSON.parse(await runLoki(socket, ['approvals', 'reject', b.approvalId, '--json'])) as { status: string; decided_by: string };
    assert.equal(rejected.status, 'rejected');
    assert.match(rejected.decided_by, /^local:/);
    assert.match(await runLoki(socket, ['approvals', 'list']), /no pending approvals/);
    const all = (JSON.parse(await runLoki(socket, ['approvals', 'list', '--status', 'all', '--json'])) as { approvals: unknown[] }).approvals;
    assert.equal(all.length, 2);
    await assert.rejects(runLoki(socket, ['approvals', 'approve', a.approvalId]), (e: LokiError) => e.code === 'approval_decided');
    await assert.rejects(runLoki(socket, ['approvals', 'list', '--status', 'bogus']), (e: LokiError) => e.code === 'invalid_argument');
  });
});
