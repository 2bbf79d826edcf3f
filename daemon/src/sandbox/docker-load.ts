// dockerode without the parts lokid never uses. dockerode requires, at load time,
// docker-modem's SSH transport (ssh2: its crypto, a 16 MiB asm.js heap for
// poly1305, tweetnacl, bcrypt-pbkdf, a native addon) and its BuildKit session
// (@grpc/proto-loader and protobufjs), ≈ 8 MB resident in an idle lokid. lokid
// talks to the Docker socket only (`socketPath`) and never asks for a BuildKit
// session, so both modules are registered in the require cache as stand-ins
// that load the real module on their first call: behaviour is unchanged if a
// future caller does use them, and nothing of them is loaded until then.
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type DockerT from 'dockerode';

const require = createRequire(import.meta.url);

/** Registers `file` (a CommonJS module exporting one function) as a stand-in that loads the real module on its first call. */
function deferModule(file: string): void {
  if (require.cache[file]) return; // already loaded for real (e.g. a test imported dockerode first)
  let real: ((...args: unknown[]) => unknown) | undefined;
  const stub = function (this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      // Drop the stand-in so require() reads the file; the real module then stays cached.
      if (require.cache[file]?.exports === stub) delete require.cache[file];
      real = require(file) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  const mod = new Module(file);
  mod.filename = file;
  mod.loaded = true;
  mod.exports = stub;
  require.cache[file] = mod;
}

function loadDockerode(): typeof DockerT {
  const main = require.resolve('dockerode'); // …/dockerode/lib/docker.js
  const modem = createRequire(main).resolve('docker-modem'); // …/docker-modem/lib/modem.js
  deferModule(join(dirname(modem), 'ssh.js')); // `ssh(opts)`: only for a `protocol: 'ssh'` modem
  deferModule(join(dirname(main), 'session.js')); // `withSession(…)`: only for a BuildKit (`version: '2'`) build
  return require(main) as typeof DockerT;
}

/** The dockerode `Docker` class, loaded without its SSH and BuildKit-session dependencies until they are used. */
export const DockerClient: typeof DockerT = loadDockerode();
