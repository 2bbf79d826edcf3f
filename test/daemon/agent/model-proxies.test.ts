// The sessions' model proxies (agent/model-proxies.ts): at most one per session,
// on `<agent dir>/model.sock`, owned by the sandbox user, adding the upstream's
// key on the host; closing one (a session ending) or all (the daemon stopping)
// takes their sockets away. Real unix sockets, a real HTTP upstream on loopback.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ModelProxies } from '../../../daemon/src/agent/model-proxies.js';
import { quietLogger } from '../../helpers/daemon.js';
import { shortTempDir } from '../../helpers/entry.js';

const KEY = 'sk-host-only-7d21';

function post(socketPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: 'Bearer sandbox-guess' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

describe('ModelProxies', () => {
  let dir: string;
  let upstream: Server;
  let url: URL;
  const keys: string[] = [];
  const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

  before(async () => {
    dir = shortTempDir('lkq');
    for (const s of ['a', 'b']) mkdirSync(join(dir, s));
    upstream = createServer((req, res) => {
      keys.push(String(req.headers.authorization ?? ''));
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices":[]}'));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`);
  });
  after(() => {
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens one proxy per session in its agent directory, adds the key on the host, and closes one or all', async () => {
    const proxies = new ModelProxies({ owner, log: quietLogger() });
    const target = { upstream: url, kind: 'openai' as const, apiKey: KEY };
    await proxies.open('ses-a', join(dir, 'a'), target);
    // A second open (a re-attach) keeps the running proxy rather than starting another on the same socket.
    await proxies.open('ses-a', join(dir, 'a'), { ...target, apiKey: 'other' });
    await proxies.open('ses-b', join(dir, 'b'), target);
    const sockA = join(dir, 'a', 'model.sock');
    assert.ok(proxies.has('ses-a') && proxies.has('ses-b'));
    assert.equal(statSync(sockA).mode & 0o777, 0o600);
    assert.equal(await post(sockA), 200);
    assert.deepEqual(keys, [`Bearer ${KEY}`], 'the sandbox’s own credential is replaced by the host’s key');

    await proxies.close('ses-a');
    assert.ok(!proxies.has('ses-a'));
    assert.ok(!existsSync(sockA), 'a closed proxy leaves no socket');
    await proxies.closeAll();
    assert.ok(!proxies.has('ses-b'));
    assert.ok(!existsSync(join(dir, 'b', 'model.sock')));
  });
});
