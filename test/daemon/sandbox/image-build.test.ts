// Image builds go through the sandbox driver: `loki sandbox build` (Sandbox.Build)
// reaches SandboxManager.buildImage → DockerSandboxDriver.buildImage, and nothing
// else in the daemon talks to Docker about images. The reuse path is the one a
// test can take without root and debootstrap: a tag that exists is not rebuilt.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { LokiError } from '../../../common/src/index.js';
import { DockerSandboxDriver } from '../../../daemon/src/sandbox/docker-driver.js';
import { SandboxServiceClient, type BuildProgress } from '../../../proto/gen/loki/v1/sandbox.js';
import { clientFor, collectStream, startTestDaemon } from '../../helpers/daemon.js';

// A tiny image of this test's own (never the shared loki-sandbox images).
const TAG = `loki-test-layout-build:${process.pid}`;

function docker(args: string[], input?: Buffer): string {
  return execFileSync('docker', args, { encoding: 'utf8', ...(input ? { input } : {}) }).trim();
}

function buildOver(client: InstanceType<typeof SandboxServiceClient>, tag: string): Promise<BuildProgress[]> {
  return collectStream<BuildProgress>(client.build({ tag, force: false, withClaude: false, claudeVersion: '' }, new Metadata()));
}

describe('image builds behind the sandbox driver', function () {
  this.timeout(120_000);
  let imageId: string;

  before(() => {
    const dir = mkdtempSync(join(tmpdir(), 'lk-img-'));
    try {
      writeFileSync(join(dir, 'marker'), 'layout\n');
      const tar = execFileSync('tar', ['-C', dir, '-c', 'marker']);
      docker(['import', '-', TAG], tar);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    imageId = docker(['image', 'inspect', '--format', '{{.Id}}', TAG]);
  });

  after(() => {
    try {
      docker(['image', 'rm', '--force', TAG]);
    } catch {
      // already gone
    }
  });

  it('Sandbox.Build on an existing tag goes through the driver and reuses the image, building nothing', async () => {
    const d = await startTestDaemon();
    const client = clientFor(SandboxServiceClient, d.paths.adminSocket);
    try {
      const seen = await buildOver(client, TAG);
      const last = seen.at(-1)!;
      assert.equal(last.phase, 'done');
      assert.equal(last.reused, true);
      assert.equal(last.imageId, imageId);
      assert.deepEqual(seen.map((p) => p.phase), ['check', 'done'], 'only the existence check ran');
    } finally {
      client.close();
      await d.cleanup();
    }
  });

  it('the Docker driver describes an image it has and answers undefined for one it has not', async () => {
    const driver = new DockerSandboxDriver({ socketPath: '/var/run/docker.sock', instance: `image-build-test-${process.pid}` });
    const info = await driver.imageInfo(TAG);
    assert.equal(info?.id, imageId);
    assert.ok(info!.sizeBytes > 0 && info!.sizeBytes < 1024 * 1024, `size ${info!.sizeBytes}`);
    assert.ok(Number.isFinite(info!.createdAtMs) && info!.createdAtMs > 0);
    assert.equal(await driver.imageInfo(`${TAG}-missing`), undefined);
    assert.equal(await driver.imageExists(TAG), true);
    assert.equal(await driver.imageExists(`${TAG}-missing`), false);
  });

  it('a Docker driver given no build directory refuses to build, with failed_precondition', async () => {
    const driver = new DockerSandboxDriver({ socketPath: '/var/run/docker.sock', instance: `image-build-test-${process.pid}` });
    await assert.rejects(
      driver.buildImage({ tag: TAG, force: false }, () => undefined, new AbortController().signal),
      (e: unknown) => e instanceof LokiError && e.code === 'failed_precondition' && /cannot build images/.test(e.message),
    );
  });
});
