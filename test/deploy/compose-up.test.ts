// docs/DEPLOYMENT.md "docker-compose with TLS", run for real: the images
// build-images.sh makes (shared with images.test.ts), Debian 12's docker-compose,
// the documented commands (gen-cert, up -d, exec … token generate, restart, down),
// calls through nginx over TLS, and a script session in a real sandbox that lokid
// starts on the host's dockerd through the mounted socket. Only the host paths and
// ports differ from the docs, through the variables the docs name.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { shortTempDir } from '../helpers/entry.js';
import { freePort } from '../helpers/ports.js';
import { REPO, requireTool, until } from './helpers.js';
import { deployImages, IMAGE_TAG } from './images.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const run = promisify(execFile);

/** The commands the test runs, each as docs/DEPLOYMENT.md writes it (checked below). */
const DOCS = {
  up: 'docker-compose up -d',
  token: 'docker-compose exec -T lokid loki enterprise token generate ops --role admin --json',
  restart: 'docker-compose restart lokid',
  down: 'docker-compose down',
  downVolumes: 'docker-compose down -v',
} as const;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface SessionDto {
  id: string;
  state: string;
  reason: string | null;
  iteration: number;
  sandbox_id: string | null;
  branch: string;
}

describe('docker-compose deployment (docs/DEPLOYMENT.md, run for real)', function () {
  this.timeout(900_000);
  const project = `lokitest-compose-${process.pid}`;
  const dir = shortTempDir('lkcmp');
  const paths = { state: join(dir, 'state'), sockets: join(dir, 'run'), projects: join(dir, 'projects'), tls: join(dir, 'tls') };
  const repo = join(paths.projects, 'demo');
  let env: NodeJS.ProcessEnv;
  let https: number;
  let http: number;
  let token = '';

  const compose = async (cmd: string, extra: string[] = []): Promise<string> => {
    const [bin, ...args] = cmd.split(' ');
    try {
      return (await run(bin!, [...args, ...extra], { cwd: REPO, env, maxBuffer: 16 * 1024 * 1024 })).stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      throw new Error(`${cmd} ${extra.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  };

  /** An HTTPS call through nginx, trusting only the certificate gen-cert.sh made. */
  const api = (method: string, path: string, body?: unknown): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: https,
          servername: 'localhost',
          method,
          path,
          ca: readFileSync(join(paths.tls, 'tls.crt')),
          headers: { host: 'localhost', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(data ? { 'content-type': 'application/json' } : {}) },
          timeout: 10_000,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
      req.on('error', reject);
      req.end(data);
    });

  const session = async (id: string): Promise<SessionDto> => {
    const r = await api('GET', `/api/sessions/${id}`);
    if (r.status !== 200) throw new Error(`GET /api/sessions/${id}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as SessionDto;
  };
  const ended = (id: string, timeoutMs = 120_000): Promise<SessionDto> =>
    until(`session ${id} to end`, async () => {
      const s = await session(id);
      return ['completed', 'failed', 'stopped', 'killed'].includes(s.state) ? s : undefined;
    }, timeoutMs);
  const start = async (plan: unknown[]): Promise<SessionDto> => {
    const r = await api('POST', '/api/control/start', { provider: 'script', project: 'demo', prompt: 'compose deployment test', plan });
    assert.equal(r.status, 201, r.body);
    return JSON.parse(r.body) as SessionDto;
  };
  const containers = async () => docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  const health = async (service: string) => {
    const [c] = (await containers()).filter((x) => x.Labels['com.docker.compose.service'] === service);
    return c ? (await docker.getContainer(c.Id).inspect()).State.Health?.Status : undefined;
  };

  before(async () => {
    requireTool('docker-compose', 'docker-compose');
    await deployImages();
    https = await freePort();
    http = await freePort();
    for (const p of Object.values(paths)) mkdirSync(p, { recursive: true });
    chmodSync(dir, 0o755);
    env = {
      ...process.env,
      COMPOSE_FILE: 'deploy/compose/docker-compose.yml',
      COMPOSE_PROJECT_NAME: project,
      LOKI_VERSION: IMAGE_TAG,
      LOKI_STATE_DIR: paths.state,
      LOKI_SOCKET_DIR: paths.sockets,
      LOKI_PROJECTS_DIR: paths.projects,
      LOKI_TLS_DIR: paths.tls,
      LOKI_HTTPS_PORT: `127.0.0.1:${https}`,
      LOKI_HTTP_PORT: `127.0.0.1:${http}`,
    };
    execFileSync(join(REPO, 'deploy', 'compose', 'gen-cert.sh'), [paths.tls, 'localhost']);
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=Loki Test', '-c', 'user.email=test@loki.invalid', ...args]);
    mkdirSync(repo);
    git('init', '-q', '-b', 'main');
    execFileSync('sh', ['-c', `echo demo > ${repo}/README.md`]);
    git('add', '.');
    git('commit', '-qm', 'init');
  });

  after(async function () {
    this.timeout(180_000);
    await compose('docker-compose down -v --remove-orphans -t 5').catch(() => undefined);
    // Whatever `down` left (a failed `up` half way): only this project's containers, network and volumes.
    for (const c of await containers().catch(() => [])) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    await docker.getNetwork(`${project}_front`).remove().catch(() => undefined);
    for (const v of ['loki-state', 'loki-run']) await docker.getVolume(`${project}_${v}`).remove().catch(() => undefined);
    // Sandboxes this lokid started (a session cut short): labelled with their workspace under this state dir.
    const sandboxes = await docker.listContainers({ all: true, filters: { label: ['loki.sandbox'] } }).catch(() => []);
    for (const c of sandboxes.filter((x) => x.Labels['loki.workspace']?.startsWith(`${paths.state}/`))) {
      await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('is brought up by the commands docs/DEPLOYMENT.md gives, with the variables it names', () => {
    const doc = readFileSync(join(REPO, 'docs', 'DEPLOYMENT.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## docker-compose with TLS'), doc.indexOf('## Kubernetes'));
    for (const cmd of [...Object.values(DOCS), 'deploy/compose/gen-cert.sh', 'apt-get install docker-compose']) assert.ok(section.includes(cmd), `the compose section shows \`${cmd}\``);
    for (const v of Object.keys(env).filter((k) => /^(LOKI|COMPOSE)_/.test(k) && !(k in process.env))) assert.ok(section.includes(v), `the compose section names ${v}`);
  });

  it('comes up with lokid, the gateway and nginx all healthy', async () => {
    await compose(DOCS.up);
    for (const service of ['lokid', 'gateway', 'nginx']) await until(`${service} healthy`, async () => (await health(service)) === 'healthy', 120_000);
  });

  it('mints a token with the documented exec command and answers /api/status through nginx over TLS', async () => {
    token = (JSON.parse(await compose(DOCS.token)) as { secret: string }).secret;
    assert.match(token, /^loki_/);
    const r = await api('GET', '/api/status');
    assert.equal(r.status, 200, r.body);
    const status = JSON.parse(r.body) as { status: string; daemon: { docker: { reachable: boolean }; base_image: { present: boolean } }; caller: { subject: string } };
    assert.equal(status.status, 'ok');
    assert.equal(status.daemon.docker.reachable, true, 'lokid reaches the host engine through the mounted socket');
    assert.equal(status.daemon.base_image.present, true);
    assert.equal(status.caller.subject, 'token:ops');
    assert.equal(r.headers['strict-transport-security'], 'max-age=63072000');
  });

  it('redirects plain HTTP to HTTPS', async () => {
    const r = await new Promise<Reply>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: http, path: '/api/status?x=1', headers: { host: 'localhost' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://localhost/api/status?x=1');
  });

  it('runs a script session to the end in a real sandbox and brings its commit back to the project', async () => {
    const reg = await api('POST', '/api/registry/projects', { path: repo, name: 'demo' });
    assert.equal(reg.status, 201, reg.body);
    const s = await start([{ run: 'echo hello from the sandbox > out.txt' }, { commit: 'add out.txt' }]);
    assert.ok(s.sandbox_id, 'a sandbox was started');
    const done = await ended(s.id);
    assert.equal(done.state, 'completed', done.reason ?? '');
    assert.equal(done.iteration, 2);
    assert.equal(execFileSync('git', ['-C', repo, 'show', `${s.branch}:out.txt`], { encoding: 'utf8' }), 'hello from the sandbox\n');
  });

  it('keeps a running session across `restart lokid`', async () => {
    const sleepMs = 12_000;
    const s = await start([{ sleep: sleepMs }, { run: 'echo after the restart > later.txt' }, { commit: 'later' }]);
    await until('the session running', async () => (await session(s.id)).state === 'running');
    const t0 = Date.now();
    await compose(DOCS.restart);
    assert.ok(Date.now() - t0 < sleepMs, 'lokid was restarted while the session slept (else this proves nothing)');
    await until('lokid healthy again', async () => (await health('lokid')) === 'healthy', 120_000);
    const done = await ended(s.id);
    assert.equal(done.state, 'completed', done.reason ?? '');
    assert.equal(done.iteration, 3);
    assert.equal(done.sandbox_id, s.sandbox_id, 'the same sandbox ran on');
    assert.equal(execFileSync('git', ['-C', repo, 'show', `${s.branch}:later.txt`], { encoding: 'utf8' }), 'after the restart\n');
  });

  it('`down` removes the containers and the network and keeps the state; `down -v` removes the volumes', async () => {
    const lokid = (await containers()).find((c) => c.Labels['com.docker.compose.service'] === 'lokid')!;
    const mounts = (await docker.getContainer(lokid.Id).inspect()).Mounts;
    // Every volume is one the compose file names: an anonymous one would outlive `down` (and could not hold lokid's state).
    assert.deepEqual(mounts.filter((m) => m.Type === 'volume').map((m) => m.Name).sort(), [`${project}_loki-run`, `${project}_loki-state`]);
    await compose(DOCS.down);
    assert.deepEqual(await containers(), []);
    assert.deepEqual((await docker.listNetworks({ filters: { name: [`${project}_front`] } })).map((n) => n.Name), []);
    const volumes = async () => ((await docker.listVolumes({ filters: { name: [project] } })).Volumes ?? []).map((v) => v.Name).sort();
    assert.deepEqual(await volumes(), [`${project}_loki-run`, `${project}_loki-state`]);
    assert.ok(existsSync(join(paths.state, 'state', 'loki.db')), 'the state stays in LOKI_STATE_DIR');
    const left = await docker.listContainers({ all: true, filters: { label: ['loki.sandbox'] } });
    assert.deepEqual(left.filter((c) => c.Labels['loki.workspace']?.startsWith(`${paths.state}/`)), [], 'no sandbox of this deployment is left');
    await compose(DOCS.downVolumes);
    assert.deepEqual(await volumes(), []);
    assert.ok(existsSync(join(paths.state, 'state', 'loki.db')), 'down -v removes the volume definitions, not the host directory');
  });
});
