// The Docker driver's image build (DockerSandboxDriver.buildImage). It makes the
// sandbox base image offline: debootstrap (minbase + git + ca-certificates) + the
// host's node binary + a non-root user `loki` (64000:64000), then `docker import`. Equivalent to deploy/sandbox/Dockerfile for hosts that
// can pull node:20-bookworm-slim.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile, appendFile, chmod, chown, readdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type Docker from 'dockerode';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { SANDBOX_UID, type ImageBuildEvent, type ImageBuildRequest } from './types.js';

export interface ImageBuildOptions extends ImageBuildRequest {
  mirror?: string;
  workDir: string;
  /** The Docker driver's engine connection. */
  docker: Docker;
  log: Logger;
  signal: AbortSignal;
  onEvent: (e: ImageBuildEvent) => void;
}

export const IMAGE_LABEL = 'loki.image';

/** The Debian mirror apt on this host uses (deb822 or one-line format), else deb.debian.org. */
export async function hostDebianMirror(): Promise<string> {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const f of candidates) {
    const text = await readFile(f, 'utf8').catch(() => '');
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822 && !deb822[1]!.includes('security')) return deb822[1]!;
    const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (oneLine) return oneLine[1]!;
  }
  return 'http://deb.debian.org/debian';
}

function run(cmd: string, args: string[], signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const tail: string[] = [];
    const read = (s: NodeJS.ReadableStream) =>
      createInterface({ input: s }).on('line', (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onLine(line);
      });
    read(child.stdout);
    read(child.stderr);
    child.on('error', (err) => reject(err));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new LokiError('failed_precondition', `${cmd} exited with ${code}:\n${tail.join('\n')}`));
    });
  });
}

export async function buildSandboxImage(o: ImageBuildOptions): Promise<{ imageId: string; reused: boolean }> {
  const { docker } = o;
  o.onEvent({ phase: 'check', message: `checking for ${o.tag}`, percent: 0 });
  if (!o.force) {
    const existing = await docker.getImage(o.tag).inspect().catch(() => undefined);
    if (existing) {
      o.onEvent({ phase: 'done', message: `${o.tag} already exists (use --force to rebuild)`, percent: 100, imageId: existing.Id, reused: true });
      return { imageId: existing.Id, reused: true };
    }
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new LokiError(
      'failed_precondition',
      'building the base image with debootstrap needs root; run the daemon as root for the build, or build deploy/sandbox/Dockerfile with `docker build -t loki-sandbox:latest deploy/sandbox`',
    );
  }
  if (!existsSync('/usr/sbin/debootstrap')) {
    throw new LokiError('failed_precondition', 'debootstrap is not installed (apt-get install -y debootstrap)');
  }
  await mkdir(o.workDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(o.workDir, 'rootfs-'));
  try {
    const mirror = o.mirror ?? (await hostDebianMirror());
    let seen = 0;
    o.onEvent({ phase: 'bootstrap', message: `debootstrap bookworm from ${mirror}`, percent: 2 });
    await run('debootstrap', ['--variant=minbase', '--include=git,ca-certificates', 'bookworm', dir, mirror], o.signal, (line) => {
      if (!line.startsWith('I: ')) return;
      seen++;
      // debootstrap prints ~250 "I:" lines for minbase+git; map them onto 2..80%.
      o.onEvent({ phase: 'bootstrap', message: line.slice(3), percent: Math.min(80, 2 + Math.floor(seen / 3.2)) });
    });
    o.onEvent({ phase: 'user', message: 'adding user loki (64000:64000)', percent: 82 });
    await addUser(dir);
    o.onEvent({ phase: 'node', message: `copying ${process.execPath} (node ${process.version})`, percent: 85 });
    await copyFile(process.execPath, join(dir, 'usr/local/bin/node'));
    await chmod(join(dir, 'usr/local/bin/node'), 0o755);
    if (o.claudeVersion) await installClaudeCode(dir, o.claudeVersion, o);
    await slim(dir);
    o.onEvent({ phase: 'import', message: `importing into Docker as ${o.tag}`, percent: 88 });
    const imageId = await importRootfs(docker, dir, o.tag, o.signal);
    o.onEvent({ phase: 'done', message: `built ${o.tag}`, percent: 100, imageId, reused: false });
    return { imageId, reused: false };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => o.log.warn({ err, dir }, 'could not remove build dir'));
  }
}

/**
 * Claude Code ships as a native binary in a platform package of the npm
 * registry; npm on the host fetches it into the root filesystem (no network is
 * ever needed inside the sandbox). Only on request: the base image stays small.
 */
async function installClaudeCode(root: string, version: string, o: ImageBuildOptions): Promise<void> {
  if (!/^[0-9A-Za-z.+-]{1,64}$/.test(version)) throw new LokiError('invalid_argument', `claude_version "${version.slice(0, 64)}" is not a valid npm version or tag`);
  o.onEvent({ phase: 'claude', message: `installing @anthropic-ai/claude-code@${version} from the npm registry`, percent: 86 });
  const prefix = join(root, 'opt', 'claude-code');
  await mkdir(prefix, { recursive: true });
  await run('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', '--ignore-scripts', '--os=linux', '--cpu=x64', `@anthropic-ai/claude-code@${version}`], o.signal, (line) => {
    if (line.trim()) o.onEvent({ phase: 'claude', message: line.slice(0, 200), percent: 87 });
  });
  const bin = join(prefix, 'node_modules', '@anthropic-ai', 'claude-code-linux-x64', 'claude');
  const fallback = join(prefix, 'node_modules', '.bin', 'claude');
  const target = existsSync(bin) ? '/opt/claude-code/node_modules/@anthropic-ai/claude-code-linux-x64/claude' : existsSync(fallback) ? '/opt/claude-code/node_modules/.bin/claude' : '';
  if (!target) throw new LokiError('failed_precondition', 'npm installed @anthropic-ai/claude-code but no claude binary was found in it');
  await rm(join(root, 'usr/local/bin/claude'), { force: true });
  await symlink(target, join(root, 'usr/local/bin/claude'));
}

async function addUser(root: string): Promise<void> {
  const uid = SANDBOX_UID;
  await appendFile(join(root, 'etc/passwd'), `loki:x:${uid}:${uid}:Loki sandbox:/home/loki:/bin/bash\n`);
  await appendFile(join(root, 'etc/group'), `loki:x:${uid}:\n`);
  await appendFile(join(root, 'etc/shadow'), `loki:!:19000:0:99999:7:::\n`);
  for (const d of ['home/loki', 'workspace']) {
    await mkdir(join(root, d), { recursive: true, mode: 0o755 });
    await chown(join(root, d), uid, uid);
  }
  await writeFile(join(root, 'etc/gitconfig'), '[safe]\n\tdirectory = /workspace\n[init]\n\tdefaultBranch = main\n');
}

async function slim(root: string): Promise<void> {
  for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
    const p = join(root, d);
    for (const f of await readdir(p).catch(() => [] as string[])) {
      if (f !== 'partial' && f !== 'lock') await rm(join(p, f), { recursive: true, force: true });
    }
  }
}

async function importRootfs(docker: Docker, dir: string, tag: string, signal: AbortSignal): Promise<string> {
  const tar = spawn('tar', ['--numeric-owner', '-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'], signal });
  let tarErr = '';
  tar.stderr.on('data', (d: Buffer) => (tarErr += d.toString()).slice(-2000));
  const tarDone = new Promise<number>((resolve) => tar.on('close', (code) => resolve(code ?? 1)));
  const [repo, version] = splitTag(tag);
  const changes = [
    'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin',
    'ENV HOME=/home/loki',
    `USER ${SANDBOX_UID}:${SANDBOX_UID}`,
    'WORKDIR /workspace',
    'CMD ["/bin/bash"]',
    `LABEL ${IMAGE_LABEL}=base`,
  ];
  const out = (await docker.importImage(tar.stdout as unknown as string, { repo, tag: version, changes } as unknown as object)) as NodeJS.ReadableStream;
  const text = await new Promise<string>((resolve, reject) => {
    let acc = '';
    out.on('data', (d: Buffer) => (acc += d.toString()));
    out.on('end', () => resolve(acc));
    out.on('error', reject);
  });
  const err = /"error":"([^"]+)"/.exec(text);
  if (err) throw new LokiError('internal', `docker import failed: ${err[1]}`);
  const tarCode = await tarDone;
  const img = await docker.getImage(tag).inspect();
  // A failed tar still produces an (empty) import; never hand out an empty image.
  if (tarCode !== 0 || img.Size < 50 * 1024 * 1024) {
    await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    throw new LokiError('internal', `creating the root filesystem archive failed (tar exit ${tarCode}): ${tarErr.trim().slice(0, 500)}`);
  }
  return img.Id;
}

function splitTag(tag: string): [string, string] {
  const i = tag.lastIndexOf(':');
  if (i > 0 && !tag.slice(i).includes('/')) return [tag.slice(0, i), tag.slice(i + 1)];
  return [tag, 'latest'];
}
