import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRoot } from '../../../daemon/src/config.js';
import { SANDBOX_IMAGE } from '../../helpers/daemon.js';
import { docker, requireImage } from '../../helpers/sandbox.js';

/** Turns the \n and \t escapes of a printf format / JS string literal into the characters. */
const unescape = (s: string) => s.replace(/\\n/g, '\n').replace(/\\t/g, '\t');

function run(argv: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('docker', argv, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
  );
}

describe('the two sandbox image recipes (offline build vs deploy/sandbox/Dockerfile)', function () {
  this.timeout(60_000);
  const root = installRoot();
  const dockerfile = readFileSync(join(root, 'deploy', 'sandbox', 'Dockerfile'), 'utf8');
  const builder = readFileSync(join(root, 'daemon', 'src', 'sandbox', 'docker-image.ts'), 'utf8');
  const sandboxTypes = readFileSync(join(root, 'daemon', 'src', 'sandbox', 'types.ts'), 'utf8');
  const instr = (name: string) => dockerfile.split('\n').filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());
  const dockerfileGitconfig = unescape(/printf '([^']+)' > \/etc\/gitconfig/.exec(dockerfile)?.[1] ?? '');
  const builderGitconfig = unescape(/writeFile\(join\(root, 'etc\/gitconfig'\), '([^']+)'\)/.exec(builder)?.[1] ?? '');

  it('the Dockerfile starts from node 20 on bookworm and sets the same image config as the offline build', () => {
    assert.deepEqual(instr('FROM'), ['node:20-bookworm-slim']);
    assert.deepEqual(instr('USER'), ['64000:64000']);
    assert.deepEqual(instr('WORKDIR'), ['/workspace']);
    assert.deepEqual(instr('ENV'), ['HOME=/home/loki']);
    assert.deepEqual(instr('LABEL'), ['loki.image=base']);
    assert.deepEqual(instr('CMD'), ['["/bin/bash"]']);
    assert.match(dockerfile, /apt-get install -y --no-install-recommends git ca-certificates/);
    assert.match(dockerfile, /userdel --remove node/);
    assert.match(dockerfile, /useradd --uid 64000 --gid 64000 --home-dir \/home\/loki/);
    assert.match(dockerfile, /chown 64000:64000 \/workspace/);
    // The offline builder's `docker import --change` list says the same.
    for (const change of ['ENV HOME=/home/loki', 'WORKDIR /workspace', 'CMD ["/bin/bash"]']) assert.ok(builder.includes(`'${change}'`), change);
    assert.ok(builder.includes('`USER ${SANDBOX_UID}:${SANDBOX_UID}`') && /SANDBOX_UID = 64000\b/.test(sandboxTypes));
  });

  it('both recipes write the same /etc/gitconfig', () => {
    assert.equal(dockerfileGitconfig, '[safe]\n\tdirectory = /workspace\n[init]\n\tdefaultBranch = main\n');
    assert.equal(builderGitconfig, dockerfileGitconfig);
  });

  describe(`the built image (${SANDBOX_IMAGE})`, () => {
    before(requireImage);

    it('has the image config the Dockerfile declares', async () => {
      const cfg = (await docker.getImage(SANDBOX_IMAGE).inspect()).Config;
      assert.equal(cfg.User, '64000:64000');
      assert.equal(cfg.WorkingDir, '/workspace');
      assert.ok(cfg.Env.includes('HOME=/home/loki'));
      assert.equal(cfg.Labels?.['loki.image'], 'base');
      assert.deepEqual(cfg.Cmd, ['/bin/bash']);
    });

    it('contains node 20, git, CA certificates, the loki user and the gitconfig', async () => {
      const out = await run([
        'run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', SANDBOX_IMAGE, 'sh', '-c',
        'node --version; git --version; id -u loki; id -g loki; id -un; pwd; echo "$HOME"; test -s /etc/ssl/certs/ca-certificates.crt && echo ca; stat -c %u:%g /workspace /home/loki; echo ---; cat /etc/gitconfig',
      ]);
      const [head, gitconfig] = out.split('---\n') as [string, string];
      const [node, git, uid, gid, user, pwd, home, ca, wsOwner, homeOwner] = head.trim().split('\n');
      assert.match(node!, /^v20\./);
      assert.match(git!, /^git version 2\./);
      assert.deepEqual([uid, gid, user, pwd, home, ca, wsOwner, homeOwner], ['64000', '64000', 'loki', '/workspace', '/home/loki', 'ca', '64000:64000', '64000:64000']);
      assert.equal(gitconfig, dockerfileGitconfig);
    });
  });
});
