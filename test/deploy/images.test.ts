// The container images, built offline by scripts/build-images.sh (debootstrap +
// docker import for the base, then the multi-stage Dockerfiles), run under the
// local dockerd.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { parse } from 'yaml';
import { shortTempDir } from '../helpers/entry.js';
import { DEPLOY, until } from './helpers.js';
import { deployImages, IMAGE_TAG as TAG } from './images.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

describe('container images (scripts/build-images.sh, offline)', function () {
  this.timeout(900_000);
  const containers: string[] = [];

  // Built once per run (images.ts), shared with compose-up.test.ts; removed after the last file.
  before(() => deployImages());
  after(async () => {
    for (const c of containers) await docker.getContainer(c).remove({ force: true }).catch(() => undefined);
  });

  it('runs the gateway image non-root under tini and answers /healthz/live 200, and Docker reports it healthy', async () => {
    const img = await docker.getImage(`loki-gateway:${TAG}`).inspect();
    assert.equal(img.Config.User, '10002:10002');
    assert.ok(img.Config.Healthcheck?.Test?.length, 'the image declares a HEALTHCHECK');
    const c = await docker.createContainer({
      Image: `loki-gateway:${TAG}`,
      Env: ['LOKI_BEHIND_TLS_PROXY=true'],
      ExposedPorts: { '57374/tcp': {} },
      HostConfig: { PortBindings: { '57374/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'] },
    });
    containers.push(c.id);
    await c.start();
    const port = (await c.inspect()).NetworkSettings.Ports['57374/tcp']![0]!.HostPort;
    const res = await until('/healthz/live', async () => {
      // docker-proxy accepts before the server listens; never let one fetch hang.
      const r = await fetch(`http://127.0.0.1:${port}/healthz/live`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200 ? r : undefined;
    });
    assert.equal(res.status, 200);
    const top = await c.top({ ps_args: '-o pid,user,args' });
    assert.match(top.Processes[0]!.join(' '), /tini -- node \/app\/dist\/gateway\/src\/main\.js/);
    await until('Docker health status healthy', async () => (await c.inspect()).State.Health?.Status === 'healthy', 90_000);
  });

  it('ships lokid with its config, checked by lokid itself, and only production dependencies', async () => {
    // No VOLUME: an anonymous volume sits at another host path (the engine cannot bind sandboxes from it) and outlives the container.
    const volumes = (await docker.getImage(`lokid:${TAG}`).inspect()).Config.Volumes as Record<string, unknown> | null;
    assert.deepEqual(Object.keys(volumes ?? {}), []);
    const out = execFileSync('docker', ['run', '--rm', `lokid:${TAG}`, '--check-config'], { encoding: 'utf8' });
    assert.match(out, /config OK/);
    const ls = execFileSync('docker', ['run', '--rm', '--entrypoint', 'sh', `lokid:${TAG}`, '-c', 'ls /app/node_modules; id -u; command -v git'], { encoding: 'utf8' });
    assert.match(ls, /better-sqlite3/);
    // Dev dependencies are pruned (an emptied scope directory is removed too).
    assert.doesNotMatch(ls, /^(mocha|typescript|eslint|tsx|esbuild|@typescript-eslint|@kubernetes-models|playwright-core)$/m);
    assert.match(ls, /\n0\n\/usr\/bin\/git/);
  });

  it('runs the nginx image with docker-compose.yml\'s mounts, capabilities and read-only root: nginx -t passes', () => {
    const compose = join(DEPLOY, 'compose');
    const svc = (parse(readFileSync(join(compose, 'docker-compose.yml'), 'utf8')) as { services: { nginx: { volumes: string[]; cap_add: string[]; tmpfs: string[] } } }).services.nginx;
    const tls = shortTempDir('lkngi');
    try {
      chmodSync(tls, 0o755);
      execFileSync(join(compose, 'gen-cert.sh'), [tls]);
      // The TLS directory is ${LOKI_TLS_DIR:-./tls}: gen-cert.sh's output here.
      const mounts = svc.volumes.flatMap((v) => ['-v', v.replace(/^\$\{LOKI_TLS_DIR:-\.\/tls\}/, tls).replace(/^\.\//, `${compose}/`)]);
      const out = execFileSync('docker', [
        'run', '--rm', '--add-host', 'gateway:127.0.0.1', '--read-only', ...svc.tmpfs.flatMap((t) => ['--tmpfs', t]),
        '--cap-drop', 'ALL', ...svc.cap_add.flatMap((c) => ['--cap-add', c]), '--security-opt', 'no-new-privileges:true',
        ...mounts, `loki-nginx:${TAG}`, '-t',
      ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(typeof out, 'string');
    } finally {
      rmSync(tls, { recursive: true, force: true });
    }
  });
});
