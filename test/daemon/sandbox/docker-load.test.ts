import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOADER = fileURLToPath(new URL('../../../daemon/src/sandbox/docker-load.js', import.meta.url));

/** Runs `body` as an ES module in a fresh node (its own module cache) with `DockerClient` imported; resolves its stdout as JSON. */
function inFreshNode(body: string): Promise<Record<string, unknown>> {
  const src = `import { createRequire } from 'node:module';\nimport { DockerClient } from ${JSON.stringify(LOADER)};\nconst require = createRequire(${JSON.stringify(LOADER)});\nconst loaded = (part) => Object.keys(require.cache).some((f) => f.includes(part));\n${body}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', src], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

describe('dockerode loading (sandbox/docker-load.ts)', function () {
  this.timeout(90_000);

  it('loads dockerode without ssh2 or the BuildKit session (protobufjs) and still talks to the real engine', async () => {
    const r = await inFreshNode(`
      const before = { ssh2: loaded('/node_modules/ssh2/'), protobufjs: loaded('/node_modules/protobufjs/'), protoLoader: loaded('/@grpc/proto-loader/') };
      const v = await new DockerClient({ socketPath: '/var/run/docker.sock' }).version();
      console.log(JSON.stringify({ before, api: v.ApiVersion, after: loaded('/node_modules/ssh2/') }));`);
    assert.deepEqual(r.before, { ssh2: false, protobufjs: false, protoLoader: false });
    assert.equal(typeof r.api, 'string', 'the engine answered /version through the loaded dockerode');
    assert.equal(r.after, false, 'a socket request does not load the SSH transport');
  });

  it('loads the SSH transport for real on its first use (a `protocol: ssh` modem)', async () => {
    // Port 1 on loopback refuses: the error must come from ssh2's connection attempt, not from a stand-in.
    const r = await inFreshNode(`
      const d = new DockerClient({ protocol: 'ssh', host: '127.0.0.1', port: 1, username: 'nobody', sshOptions: { readyTimeout: 5000 } });
      const err = await d.version().then(() => undefined, (e) => e);
      console.log(JSON.stringify({ ssh2: loaded('/node_modules/ssh2/'), code: err?.code, message: String(err?.message) }));`);
    assert.equal(r.ssh2, true, 'ssh2 is loaded once an SSH request is made');
    assert.equal(r.code, 'ECONNREFUSED', `the SSH client itself tried to connect: ${String(r.message)}`);
  });

  it('loads the BuildKit session for real on its first use, with the caller’s arguments', async () => {
    const r = await inFreshNode(`
      const main = require.resolve('dockerode');
      const withSession = require(main.replace(/docker\\.js$/, 'session.js'));
      let dialed;
      const docker = { modem: { dial: (opts, cb) => { dialed = opts; cb(new Error('dial refused by the test')); } } };
      const err = await new Promise((resolve) => withSession(docker, undefined, (e) => resolve(e)));
      console.log(JSON.stringify({ protoLoader: loaded('/@grpc/proto-loader/'), path: dialed?.path, message: err?.message, cached: require(main.replace(/docker\\.js$/, 'session.js')) === withSession }));`);
    assert.equal(r.protoLoader, true, 'the real session module (and its proto loader) is loaded on the first call');
    assert.equal(r.path, '/session', 'the real withSession dialled the engine with the given docker');
    assert.equal(r.message, 'dial refused by the test');
    assert.equal(r.cached, false, 'the require cache now holds the real module, not the stand-in');
  });
});
