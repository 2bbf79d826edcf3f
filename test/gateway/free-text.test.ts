// Free text a caller asks the daemon to keep (a session's model, a project to
// look up, a PRD path, a plan's task names, an approval comment, a project path)
// is refused with a control, bidi or invisible character in it: 400 over the HTTP
// API and INVALID_ARGUMENT straight over gRPC, each naming the field and the
// character. The daemon decides (the gateway is not trusted), so both doors give
// the same answer.
import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { createDaemonClient, type DaemonClient } from '../../client/src/grpc/index.js';
import { DecideApprovalRequest, PolicyServiceClient } from '../../proto/gen/loki/v1/policy.js';
import { SessionServiceClient, StartSessionRequest } from '../../proto/gen/loki/v1/sessions.js';
import { RegisterProjectRequest, WorkspaceServiceClient } from '../../proto/gen/loki/v1/workspace.js';
import { clientFor, errorCode, unaryCall } from '../helpers/daemon.js';
import { buildTestGateway, generateToken, startTestDaemon, type TestDaemon, type TestGateway } from './helpers.js';

const APPROVAL = 'apr-00000000-0000-0000-0000-000000000000';

interface Row {
  what: string;
  url: string;
  body: Record<string, unknown>;
  message: RegExp;
}

const start = (extra: Record<string, unknown>) => ({ provider: 'script', prompt: 'x', plan: [{ run: 'true' }], ...extra });

const ROWS: Row[] = [
  { what: 'a model with an escape sequence', url: '/api/control/start', body: start({ model: 'gpt\u001b[31m' }), message: /^model contains a control character \(\\x1b at position 3\)/ },
  { what: 'a model with a line feed', url: '/api/control/start', body: start({ model: 'gpt\nX-Injected: 1' }), message: /^model contains a control character \(\\x0a at position 3\)/ },
  { what: 'a model with a NUL', url: '/api/control/start', body: start({ model: 'gpt\u0000' }), message: /^model contains a control character \(\\x00/ },
  { what: 'a model with a bidi override', url: '/api/control/start', body: start({ model: 'gpt\u202e4o' }), message: /^model contains an invisible or bidi-control character \(\\u202e/ },
  { what: 'a project name with an escape', url: '/api/control/start', body: start({ project: 'app\u001b[2J' }), message: /^project contains a control character/ },
  { what: 'a PRD path with a line feed', url: '/api/control/start', body: { prd: 'docs/prd.md\nok', project: 'app' }, message: /^prd contains a control character/ },
  { what: 'a base URL with a tab (the URL parser would drop it)', url: '/api/control/start', body: start({ provider: 'openai', model: 'm', base_url: 'http://up\t.example/v1' }), message: /^base_url contains a control character \(\\x09/ },
  { what: "a plan step's task name with an escape", url: '/api/control/start', body: start({ plan: [{ run: 'true', task: 'build\u001b[8m' }] }), message: /^the plan cannot run: step 1: task contains a control character/ },
  { what: 'an approval comment with an escape', url: `/api/approvals/${APPROVAL}/approve`, body: { comment: 'ok\u001b]0;pwned\u0007' }, message: /^comment contains a control character \(\\x1b/ },
  { what: 'an approval comment with a carriage return', url: `/api/approvals/${APPROVAL}/reject`, body: { comment: 'no\rapproved' }, message: /^comment contains a control character \(\\x0d/ },
  { what: 'a project path with a line feed', url: '/api/projects', body: { path: '/srv/repo\n/etc' }, message: /^path contains a control character/ },
];

describe('free text with control characters', function () {
  this.timeout(60_000);
  let daemon: TestDaemon;
  let gw: TestGateway;
  let client: DaemonClient;
  let auth: Record<string, string>;

  before(async () => {
    daemon = await startTestDaemon();
    client = createDaemonClient({ socketPath: daemon.gatewaySocket, timeoutMs: 3000 });
    gw = await buildTestGateway({
      socket: daemon.gatewaySocket,
      raw: { rate_limit: { per_minute: 1_000_000, burst: 1_000_000 } },
      deps: { daemon: client },
    });
    auth = { authorization: `Bearer ${(await generateToken(daemon.adminSocket, { name: 'text-admin', role: 'admin' })).secret}` };
  });

  after(async () => {
    await gw?.close();
    client?.close();
    await daemon?.close();
  });

  for (const row of ROWS) {
    it(`answers 400 naming the field and the character for ${row.what} (HTTP API)`, async () => {
      const r = await gw.app.inject({ method: 'POST', url: row.url, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify(row.body) });
      assert.equal(r.statusCode, 400, r.body);
      const e = r.json().error;
      assert.equal(e.code, 'invalid_argument');
      assert.match(e.message, row.message);
    });
  }

  it('refuses the same over gRPC on the admin socket, without the gateway (INVALID_ARGUMENT)', async () => {
    const sessions = clientFor(SessionServiceClient, daemon.adminSocket);
    const policy = clientFor(PolicyServiceClient, daemon.adminSocket);
    const workspace = clientFor(WorkspaceServiceClient, daemon.adminSocket);
    const refused = (message: RegExp) => (e: Error & { code?: number; details?: string }) => {
      assert.equal(e.code, status.INVALID_ARGUMENT, e.details);
      assert.equal(errorCode(e), 'invalid_argument');
      assert.match(e.details ?? '', message);
      return true;
    };
    try {
      await assert.rejects(unaryCall(sessions.start.bind(sessions), StartSessionRequest.fromPartial({ prompt: 'x', model: 'gpt\u001b[31m' }), new Metadata()), refused(/^model contains a control character \(\\x1b at position 3\)/));
      await assert.rejects(unaryCall(sessions.start.bind(sessions), StartSessionRequest.fromPartial({ prompt: 'x', model: 'm'.repeat(201) }), new Metadata()), refused(/^model is longer than 200 characters/));
      await assert.rejects(unaryCall(sessions.start.bind(sessions), StartSessionRequest.fromPartial({ prompt: 'x', project: 'a\u0000b' }), new Metadata()), refused(/^project contains a control character \(\\x00/));
      await assert.rejects(
        unaryCall(policy.decideApproval.bind(policy), DecideApprovalRequest.fromPartial({ id: APPROVAL, approve: true, comment: 'fine\u009b31m' }), new Metadata()),
        refused(/^comment contains a control character \(\\x9b/),
      );
      await assert.rejects(unaryCall(workspace.registerProject.bind(workspace), RegisterProjectRequest.fromPartial({ path: '/srv/\u001brepo' }), new Metadata()), refused(/^path contains a control character/));
    } finally {
      sessions.close();
      policy.close();
      workspace.close();
    }
  });
});
