import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { SandboxServiceClient, type BuildImageRequest } from '../../../proto/gen/loki/v1/sandbox.js';
import { clientFor, errorCode, startTestDaemon } from '../../helpers/daemon.js';

function build(client: InstanceType<typeof SandboxServiceClient>, req: BuildImageRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = client.build(req, new Metadata());
    s.on('data', () => undefined);
    s.on('error', reject);
    s.on('end', resolve);
  });
}

describe('Claude Code image (built only on request)', function () {
  this.timeout(60_000);
  let d: Awaited<ReturnType<typeof startTestDaemon>>;
  let client: InstanceType<typeof SandboxServiceClient>;

  before(async () => {
    d = await startTestDaemon();
    client = clientFor(SandboxServiceClient, d.paths.adminSocket);
  });

  after(async () => {
    client?.close();
    await d?.cleanup();
  });

  it('refuses a Claude Code version without --with-claude, before building anything', async () => {
    await assert.rejects(build(client, { tag: 'loki-test-never:built', force: true, withClaude: false, claudeVersion: '2.1.330' }), (e: unknown) => (e as { code: number }).code === 3 && errorCode(e) === 'invalid_argument');
  });

  it('refuses a version string that is not an npm version or tag, before building anything', async () => {
    await assert.rejects(build(client, { tag: 'loki-test-never:built', force: true, withClaude: true, claudeVersion: '1.0; rm -rf /' }), (e: unknown) => (e as { code: number }).code === 3 && /not a valid npm version/.test((e as Error).message));
  });

  it('defaults claude sessions to the claude image and every other session to the base image', () => {
    assert.equal(d.config.sessions.claude_image, 'loki-sandbox:claude');
    assert.equal(d.config.sandbox.image.endsWith(':claude'), false);
  });
});
