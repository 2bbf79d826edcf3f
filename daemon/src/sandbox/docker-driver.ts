// The Docker implementation of SandboxDriver (dockerode). Docker labels are the
// source of truth for which sandboxes exist, so a restarted daemon finds them.
import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { LokiError, type Logger } from '../../../common/src/index.js';
import { demuxDockerStream } from './demux.js';
import { buildSandboxImage } from './docker-image.js';
import { DockerClient } from './docker-load.js';
import { checkSameMountNamespace, fromLabels, LABEL, verifyApplied } from './docker-inspect.js';
import { runnerBundleFile } from './runner.js';
import { SANDBOX_WORKSPACE } from './types.js';
import type {
  AgentChannelTransport,
  DriverInfo,
  ExecOptions,
  ExecSession,
  ImageBuildEvent,
  ImageBuildRequest,
  ImageInfo,
  LogChunk,
  LogOptions,
  ResolvedHardening,
  RunnerBundle,
  RunnerTransport,
  SandboxCreateSpec,
  SandboxDriver,
  SandboxInfo,
  SandboxState,
} from './types.js';

export function containerName(id: string): string {
  return `loki-${id}`;
}

/** Where a session's agent channel appears inside its container (the host directory is bind-mounted there). */
export const AGENT_DIR_IN_SANDBOX = '/run/loki-agent';

export interface DockerDriverOptions {
  socketPath: string;
  /** Distinguishes daemons sharing one engine (derived from LOKI_HOME). */
  instance: string;
  /** For `buildImage`: scratch space for the root filesystem, the Debian mirror (default: the host's), a logger. */
  build?: { workDir: string; mirror?: string; log: Logger };
  /** dockerd's pid file, to compare mount namespaces (default /var/run/docker.pid; '' = do not check). */
  pidFile?: string;
}

function isStatus(err: unknown, code: number): boolean {
  return (err as { statusCode?: number })?.statusCode === code;
}

function dockerError(err: unknown, what: string): LokiError {
  if (err instanceof LokiError) return err;
  const e = err as { code?: string; statusCode?: number; json?: { message?: string }; message?: string };
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES') {
    return new LokiError('docker_unavailable', `cannot reach the Docker engine (${e.code}) while trying to ${what}`, { cause: err });
  }
  const msg = e.json?.message ?? e.message ?? 'unknown error';
  if (e.statusCode === 404) return new LokiError('not_found', `${what}: ${msg}`, { cause: err });
  if (e.statusCode === 409) return new LokiError('conflict', `${what}: ${msg}`, { cause: err });
  return new LokiError('internal', `${what}: ${msg}`, { cause: err });
}

export class DockerSandboxDriver implements SandboxDriver {
  readonly capabilities = { name: 'docker', pause: true } as const;
  private readonly docker: Docker;
  private readonly instance: string;
  private readonly build: DockerDriverOptions['build'];
  private readonly pidFile: string;

  constructor(opts: DockerDriverOptions) {
    this.docker = new DockerClient({ socketPath: opts.socketPath });
    this.instance = opts.instance;
    this.build = opts.build;
    this.pidFile = opts.pidFile ?? '/var/run/docker.pid';
  }

  async info(): Promise<DriverInfo> {
    try {
      const [version, info] = await Promise.all([
        this.docker.version(),
        this.docker.info() as Promise<{ SecurityOptions?: string[]; Runtimes?: Record<string, { runtimeArgs?: string[] }> }>,
      ]);
      const seccomp = (info.SecurityOptions ?? []).some((o) => o.startsWith('name=seccomp'));
      const runtimes = Object.fromEntries(Object.entries(info.Runtimes ?? { runc: {} }).map(([k, v]) => [k, v.runtimeArgs ?? []]));
      return { version: version.Version, seccomp, runtimes };
    } catch (err) {
      throw dockerError(err, 'query the engine');
    }
  }

  async imageExists(image: string): Promise<boolean> {
    return (await this.imageInfo(image)) !== undefined;
  }

  async imageInfo(image: string): Promise<ImageInfo | undefined> {
    try {
      const i = await this.docker.getImage(image).inspect();
      return { id: i.Id, sizeBytes: i.Size, createdAtMs: Date.parse(i.Created) };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw dockerError(err, `inspect image ${image}`);
    }
  }

  async buildImage(req: ImageBuildRequest, onEvent: (e: ImageBuildEvent) => void, signal: AbortSignal): Promise<{ imageId: string; reused: boolean }> {
    if (!this.build) throw new LokiError('failed_precondition', 'this Docker driver was not given a build directory; it cannot build images');
    return buildSandboxImage({ ...req, ...this.build, docker: this.docker, onEvent, signal });
  }

  assertSeesHostMounts(): void {
    if (this.pidFile) checkSameMountNamespace(this.pidFile);
  }

  agentChannelMount(_sessionId: string, hostDir: string): AgentChannelTransport {
    // Bind-mounted read-write into this one container: the runner connects to the sockets in it.
    return { dirInSandbox: AGENT_DIR_IN_SANDBOX, mounts: [{ hostPath: hostDir, containerPath: AGENT_DIR_IN_SANDBOX, readOnly: false }] };
  }

  runnerTransport(bundle: RunnerBundle): RunnerTransport {
    const hostPath = runnerBundleFile(bundle);
    // A bind is `host:container:options`: a ':' or ',' in either path would change what is mounted, or how.
    for (const p of [hostPath, bundle.pathInSandbox]) {
      if (/[:,]/.test(p)) throw new LokiError('invalid_config', `the agent-runner bundle path ${p.slice(0, 200)} contains ':' or ','; Docker cannot bind-mount it`);
    }
    // Read-only, and only the bundle's one file: the runner cannot change the code it runs, and sees nothing else of the install.
    return { pathInSandbox: bundle.pathInSandbox, mounts: [{ hostPath, containerPath: bundle.pathInSandbox, readOnly: true }] };
  }

  async create(spec: SandboxCreateSpec, h: ResolvedHardening): Promise<SandboxInfo> {
    const s = h.summary;
    const prop = (p: 'rslave' | undefined) => (p ? `,${p}` : '');
    const binds = [
      `${spec.workspace}:${SANDBOX_WORKSPACE}:rw${prop(spec.workspacePropagation)}`,
      ...spec.extraMounts.map((m) => `${m.hostPath}:${m.containerPath}:${m.readOnly ? 'ro' : 'rw'}${prop(m.propagation)}`),
    ];
    const labels: Record<string, string> = {
      [LABEL.sandbox]: spec.id,
      [LABEL.name]: spec.name,
      [LABEL.owner]: spec.owner,
      [LABEL.project]: spec.project,
      [LABEL.session]: spec.session,
      [LABEL.instance]: this.instance,
      [LABEL.workspace]: spec.workspace,
      [LABEL.hardening]: JSON.stringify(s),
    };
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name: containerName(spec.id),
        Image: spec.image,
        Cmd: spec.command,
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        User: h.user,
        WorkingDir: SANDBOX_WORKSPACE,
        Labels: labels,
        Tty: false,
        OpenStdin: false,
        NetworkDisabled: s.networkMode === 'none',
        HostConfig: {
          Binds: binds,
          ReadonlyRootfs: s.readOnlyRootfs,
          // HOME belongs to the sandbox user, whichever uid that is (the image's `loki` is 1000; the default is a dedicated uid).
          Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${h.tmpfsSize}`, '/home/loki': `rw,nosuid,nodev,size=${h.tmpfsSize}${tmpfsOwner(h.user)}` },
          CapDrop: ['ALL'],
          CapAdd: [],
          SecurityOpt: ['no-new-privileges:true', `seccomp=${h.seccompJson}`],
          Privileged: false,
          Runtime: h.runtime,
          NetworkMode: s.networkMode,
          Memory: s.memoryBytes,
          MemorySwap: s.memoryBytes,
          NanoCpus: Math.round(s.cpus * 1e9),
          PidsLimit: s.pids,
          IpcMode: 'private',
          Init: true,
          AutoRemove: false,
          RestartPolicy: { Name: 'no' },
          LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
        },
      });
    } catch (err) {
      if (isStatus(err, 404)) {
        throw new LokiError('image_not_found', `image ${spec.image} not found; build it with \`loki sandbox build\``, { cause: err });
      }
      throw dockerError(err, 'create the sandbox container');
    }
    try {
      // Never fail open: check the engine really applied every control before starting.
      verifyApplied(await container.inspect(), h);
      await container.start();
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw err instanceof LokiError ? err : dockerError(err, 'start the sandbox container');
    }
    const info = await this.get(spec.id);
    if (!info) throw new LokiError('internal', `sandbox ${spec.id} vanished right after start`);
    return info;
  }

  async list(): Promise<SandboxInfo[]> {
    let rows: Docker.ContainerInfo[];
    try {
      rows = await this.docker.listContainers({
        all: true,
        filters: { label: [`${LABEL.instance}=${this.instance}`, LABEL.sandbox] },
      });
    } catch (err) {
      throw dockerError(err, 'list sandboxes');
    }
    return rows.map((r) => fromLabels(r.Labels, r.Id, r.State as SandboxState, r.Created * 1000, 0, r.Image));
  }

  async get(id: string): Promise<SandboxInfo | undefined> {
    const ins = await this.inspect(id);
    if (!ins) return undefined;
    const info = fromLabels(
      ins.Config.Labels,
      ins.Id,
      ins.State.Status as SandboxState,
      Date.parse(ins.Created),
      ins.State.ExitCode ?? 0,
      ins.Config.Image,
    );
    // The warm pool wakes a claimed slot's waiter with a signal (pool-slot.ts wakeSlot).
    return ins.State.Running && ins.State.Pid ? { ...info, hostPid: ins.State.Pid } : info;
  }

  private async inspect(id: string): Promise<ContainerInspectInfo | undefined> {
    try {
      const ins = await this.docker.getContainer(containerName(id)).inspect();
      // A container that merely has our name but not our labels is not ours.
      if (ins.Config.Labels?.[LABEL.instance] !== this.instance || ins.Config.Labels?.[LABEL.sandbox] !== id) return undefined;
      return ins;
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw dockerError(err, `inspect sandbox ${id}`);
    }
  }

  async *logs(id: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogChunk> {
    const c = this.docker.getContainer(containerName(id));
    const base = { stdout: true, stderr: true, timestamps: opts.timestamps, ...(opts.tail > 0 ? { tail: opts.tail } : {}) };
    let raw: NodeJS.ReadableStream;
    try {
      raw = opts.follow
        ? await c.logs({ ...base, follow: true, abortSignal: signal })
        : toStream(await c.logs({ ...base, follow: false }));
    } catch (err) {
      if (signal.aborted) return;
      throw dockerError(err, `read logs of ${id}`);
    }
    const onAbort = () => (raw as unknown as Duplex).destroy?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of demuxDockerStream(raw)) {
        if (signal.aborted) break;
        yield chunk;
      }
    } catch (err) {
      if (!signal.aborted) throw dockerError(err, `read logs of ${id}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      onAbort();
    }
  }

  async exec(id: string, o: ExecOptions): Promise<ExecSession> {
    const c = this.docker.getContainer(containerName(id));
    let exec: Docker.Exec;
    let stream: Duplex;
    try {
      exec = await c.exec({
        Cmd: o.argv,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: o.tty,
        Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
        WorkingDir: o.workdir,
        User: o.user,
      });
      stream = (await exec.start({ hijack: true, stdin: true, Tty: o.tty })) as Duplex;
    } catch (err) {
      throw dockerError(err, `exec in ${id}`);
    }
    if (o.tty && o.cols > 0 && o.rows > 0) await exec.resize({ w: o.cols, h: o.rows }).catch(() => undefined);
    const output: AsyncIterable<LogChunk> = o.tty ? ttyChunks(stream) : demuxDockerStream(stream);
    let ended: Promise<void> | undefined;
    const done = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    return {
      output,
      write: (data) =>
        new Promise<void>((resolve) => {
          if (stream.writableEnded || stream.destroyed || stream.write(data)) return resolve();
          const done = () => {
            stream.off('drain', done);
            stream.off('close', done);
            resolve();
          };
          stream.once('drain', done);
          stream.once('close', done);
        }),
      closeStdin: () => {
        // Half-close: Docker closes the process's stdin when the hijacked socket's write side ends.
        if (!stream.writableEnded) stream.end();
      },
      resize: async (cols, rows) => {
        if (o.tty && cols > 0 && rows > 0) await exec.resize({ w: cols, h: rows }).catch(() => undefined);
      },
      exitCode: async () => {
        ended ??= done;
        await ended;
        for (let i = 0; i < 100; i++) {
          const ins = await exec.inspect();
          if (!ins.Running && ins.ExitCode !== null) return ins.ExitCode;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new LokiError('internal', 'exec finished but the engine reported no exit code');
      },
      kill: () => stream.destroy(),
    };
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(containerName(id)).stop({ t: timeoutSeconds });
    } catch (err) {
      if (isStatus(err, 304)) return; // already stopped
      throw dockerError(err, `stop ${id}`);
    }
  }

  async remove(id: string, force: boolean): Promise<void> {
    try {
      await this.docker.getContainer(containerName(id)).remove({ force, v: true });
    } catch (err) {
      if (isStatus(err, 404)) return;
      throw dockerError(err, `remove ${id}`);
    }
  }

  async pause(id: string): Promise<void> {
    try {
      await this.docker.getContainer(containerName(id)).pause();
    } catch (err) {
      throw dockerError(err, `pause ${id}`);
    }
  }

  async unpause(id: string): Promise<void> {
    try {
      await this.docker.getContainer(containerName(id)).unpause();
    } catch (err) {
      throw dockerError(err, `unpause ${id}`);
    }
  }
}

function tmpfsOwner(user: string): string {
  const m = /^(\d+):(\d+)$/.exec(user);
  return m ? `,uid=${m[1]},gid=${m[2]},mode=0700` : '';
}

function toStream(buf: Buffer | NodeJS.ReadableStream): NodeJS.ReadableStream {
  if (!Buffer.isBuffer(buf)) return buf;
  const p = new PassThrough();
  p.end(buf);
  return p;
}

async function* ttyChunks(stream: NodeJS.ReadableStream): AsyncIterable<LogChunk> {
  for await (const data of stream) yield { stream: 'stdout', data: Buffer.from(data as Buffer) };
}
