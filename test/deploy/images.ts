// The container images scripts/build-images.sh makes, built once per test run and
// shared by the tests that need them (images.test.ts runs each alone,
// compose-up.test.ts runs them together): the build costs minutes on 2 cores.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { REPO } from './helpers.js';

/** This run's tag: lokid:TAG, loki-gateway:TAG, loki-nginx:TAG. */
export const IMAGE_TAG = `test-${process.pid}`;
export const IMAGES = [`loki-gateway:${IMAGE_TAG}`, `lokid:${IMAGE_TAG}`, `loki-nginx:${IMAGE_TAG}`] as const;

let built: Promise<void> | undefined;

/** Builds the three images on the first call; later calls wait for the same build. */
export function deployImages(): Promise<void> {
  built ??= promisify(execFile)(join(REPO, 'scripts', 'build-images.sh'), {
    cwd: REPO,
    env: { ...process.env, LOKI_IMAGE_TAG: IMAGE_TAG, LOKI_IMAGES: 'gateway lokid nginx' },
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    () => undefined,
    (err: Error & { stderr?: string }) => {
      throw new Error(`scripts/build-images.sh failed: ${err.message}\n${err.stderr ?? ''}`);
    },
  );
  return built;
}

// A root hook (registered when the first test file that needs the images is loaded): the images go
// once every file is done with them, whichever ran last, also after a failure.
after(async function () {
  if (!built) return;
  this.timeout(120_000);
  await built.catch(() => undefined);
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  for (const img of IMAGES) await docker.getImage(img).remove({ force: true }).catch(() => undefined);
});
