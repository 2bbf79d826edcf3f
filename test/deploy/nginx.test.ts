// The shipped nginx TLS proxy config (deploy/compose/nginx/), checked with
// `nginx -t` (Debian's nginx) and run on loopback in front of a real gateway and
// a real lokid. Only addresses change: the listen ports, the upstream (the
// gateway's loopback port instead of the compose service), and file locations
// under a temp prefix.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { entryArgv, shortTempDir } from '../helpers/entry.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { generateToken } from '../gateway/helpers.js';
import { DEPLOY, freePort, requireTool, startProcess, until } from './helpers.js';

const NGINX = join(DEPLOY, 'compose', 'nginx');

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, ca: Buffer, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', headers } as RequestOptions, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('deploy/compose nginx TLS proxy (real nginx, gateway and lokid on loopback)', function () {
  this.timeout(120_000);
  let dir: string;
  let d: Awaited<ReturnType<typeof startTestDaemon>>;
  let gateway: ReturnType<typeof startProcess>;
  let nginx: ReturnType<typeof startProcess>;
  let https: number;
  let http: number;
  let ca: Buffer;
  let token: string;

  before(async () => {
    const bin = requireTool('nginx', 'nginx');
    dir = shortTempDir('lkngx');
    chmodSync(dir, 0o755);
    const etc = join(dir, 'etc', 'nginx');
    mkdirSync(join(etc, 'conf.d'), { recursive: true });
    execFileSync(join(DEPLOY, 'compose', 'gen-cert.sh'), [join(etc, 'tls'), 'localhost']);
    ca = readFileSync(join(etc, 'tls', 'tls.crt'));
    copyFileSync('/etc/nginx/mime.types', join(etc, 'mime.types'));

    d = await startTestDaemon();
    token = (await generateToken(d.paths.adminSocket, { name: 'nginx-test', scopes: ['read'] })).secret;
    const gwPort = await freePort();
    gateway = startProcess(process.execPath, entryArgv('gateway'), {
      PATH: process.env.PATH!,
      LOKI_HOME: d.home,
      LOKI_DAEMON_SOCKET: d.paths.gatewaySocket,
      LOKI_API_HOST: '127.0.0.1',
      LOKI_API_PORT: String(gwPort),
      LOKI_TRUSTED_PROXIES: '127.0.0.1',
      // As deployed behind nginx (compose, systemd): the gateway then sends its own HSTS header too.
      LOKI_BEHIND_TLS_PROXY: 'true',
    });
    await until('the gateway', async () => (await fetch(`http://127.0.0.1:${gwPort}/healthz/live`)).ok);

    https = await freePort();
    http = await freePort();
    const at = (s: string) => s.replaceAll('/etc/nginx/', `${etc}/`).replaceAll('/tmp/nginx', `${dir}/nginx`);
    // Without the compose nginx.conf's own `server_tokens off`, as with Debian's nginx.conf on the systemd
    // host: loki.conf must hide the version by itself.
    const main = at(readFileSync(join(NGINX, 'nginx.conf'), 'utf8'));
    assert.match(main, /server_tokens off;/);
    writeFileSync(join(etc, 'nginx.conf'), main.replace(/\n\s*server_tokens off;/, ''));
    writeFileSync(join(etc, 'conf.d', 'loki-upstream.conf'), readFileSync(join(NGINX, 'loki-upstream.conf'), 'utf8').replace('server gateway:57374;', `server 127.0.0.1:${gwPort};`));
    const server = at(readFileSync(join(NGINX, 'loki.conf'), 'utf8'))
      .replace(/listen 80;/, `listen 127.0.0.1:${http};`)
      .replace(/listen 443 ssl( http2)?;/, `listen 127.0.0.1:${https} ssl$1;`);
    assert.ok(server.includes(`127.0.0.1:${https} ssl`) && server.includes(`127.0.0.1:${http};`), 'the shipped server block still listens on 80 and 443 ssl');
    writeFileSync(join(etc, 'conf.d', 'loki.conf'), server);

    const t = spawnSync(bin, ['-t', '-p', dir, '-c', join(etc, 'nginx.conf')], { encoding: 'utf8' });
    assert.equal(t.status, 0, `nginx -t failed:\n${t.stderr}`);
    assert.match(t.stderr, /syntax is ok/);
    nginx = startProcess(bin, ['-p', dir, '-c', join(etc, 'nginx.conf'), '-g', 'daemon off;'], { PATH: process.env.PATH! });
    await until('nginx', async () => (await get(https, '/healthz/live', ca)).status === 200);
  });

  after(async () => {
    await nginx?.stop('SIGQUIT');
    await gateway?.stop();
    await d?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers an authenticated /api/status 200 over HTTPS, and 401 without a token', async () => {
    const ok = await get(https, '/api/status', ca, { authorization: `Bearer ${token}` });
    assert.equal(ok.status, 200, ok.body);
    // Exactly one HSTS header (a browser heeds only the first), nginx's.
    assert.equal(ok.headers['strict-transport-security'], 'max-age=63072000');
    const no = await get(https, '/api/status', ca);
    assert.equal(no.status, 401, no.body);
    assert.equal((JSON.parse(no.body) as { error: { code: string } }).error.code.length > 0, true);
  });

  it('redirects plain HTTP to HTTPS', async () => {
    const r = await fetch(`http://127.0.0.1:${http}/api/status`, { redirect: 'manual' });
    assert.equal(r.status, 308);
    assert.match(r.headers.get('location') ?? '', /^https:\/\//);
    assert.equal(r.headers.get('server'), 'nginx', 'no version in the Server header');
    assert.doesNotMatch(await r.text(), /nginx\/\d/, 'nor on the page');
    const s = await get(https, '/no-such-path', ca);
    assert.equal(s.headers.server, 'nginx');
  });

  it('streams server-sent events through nginx while the stream is still open (no proxy buffering)', async () => {
    const first = await new Promise<{ type: string; chunk: string; ended: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: https, path: '/api/events', ca, servername: 'localhost', headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } } as RequestOptions, (res) => {
        let ended = false;
        res.on('end', () => (ended = true));
        res.once('data', (d: Buffer) => {
          resolve({ type: String(res.headers['content-type']), chunk: d.toString(), ended });
          req.destroy();
        });
      });
      req.on('error', reject);
      req.setTimeout(20_000, () => reject(new Error('no SSE data through nginx within 20s (buffered?)')));
      req.end();
    });
    assert.match(first.type, /^text\/event-stream/);
    assert.match(first.chunk, /retry: 3000/);
    assert.equal(first.ended, false);
  });
});
