// Domain types for sandboxes and the driver seam (Docker now, Kubernetes later).

import type { SandboxState } from '../../../common/src/vocab.js';

export type { SandboxState };

/**
 * The sandbox image's own user (`loki`, 64000:64000): the dedicated uid lokid runs
 * sandboxes as when it is root, so the shell has a name and a home.
 */
export const SANDBOX_UID = 64000;

/**
 * Where every sandbox has its session's workspace: the one path the agent works in
 * (its brief names it) and the one root every decision about a session's files is
 * made against, on every door (agent channel, Decide, Explain). policy.workspace
 * may only repeat it. The image recipes (docker-image.ts, deploy/sandbox/Dockerfile)
 * spell it out; test/daemon/sandbox/image-equivalence.test.ts keeps them at /workspace.
 */
export const SANDBOX_WORKSPACE = '/workspace';

/** The Claude Code version an image built with Claude gets unless another is asked for. */
export const DEFAULT_CLAUDE_CODE_VERSION = '2.1.330';

export interface SandboxLimits {
  memoryBytes: number;
  cpus: number;
  pids: number;
}

export interface SandboxRelaxations {
  network: boolean;
  writableRootfs: boolean;
  rootUser: boolean;
}

/** The controls actually applied to one sandbox (reported back and checked after create). */
export interface HardeningSummary {
  user: string;
  readOnlyRootfs: boolean;
  capDrop: string[];
  noNewPrivileges: boolean;
  seccompProfile: string;
  networkMode: string;
  memoryBytes: number;
  cpus: number;
  pids: number;
  privileged: boolean;
}

export interface SandboxMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
  /** `rslave`: mounts made later under hostPath reach the sandbox (the warm pool fills a slot at claim). */
  propagation?: 'rslave';
}

export interface SandboxCreateSpec {
  id: string;
  name: string;
  owner: string;
  project: string;
  session: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  workspace: string;
  /** `rslave` for a warm-pool slot, whose workspace is mounted onto the (empty) slot directory at claim. */
  workspacePropagation?: 'rslave';
  /**
   * What the driver's own transports need mounted (the agent channel, the runner
   * bundle), handed back to it by SandboxManager. Never user input: no start
   * request can name a host path.
   */
  extraMounts: SandboxMount[];
  limits: SandboxLimits;
  relax: SandboxRelaxations;
}

export interface SandboxInfo {
  id: string;
  name: string;
  owner: string;
  project: string;
  session: string;
  state: SandboxState;
  image: string;
  containerId: string;
  createdAtMs: number;
  workspace: string;
  hardening: HardeningSummary;
  exitCode: number;
  /** The container's main process on the host while it runs (Docker's State.Pid): lokid-internal, never sent to a caller. */
  hostPid?: number;
}

export interface LogChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface LogOptions {
  follow: boolean;
  tail: number;
  timestamps: boolean;
}

export interface ExecOptions {
  argv: string[];
  tty: boolean;
  cols: number;
  rows: number;
  env: Record<string, string>;
  workdir: string;
  user: string;
}

export interface ExecSession {
  /** Output chunks until the process exits. */
  output: AsyncIterable<LogChunk>;
  /** Resolves once the data is taken (at once, or when the process's stdin drains): callers wait before writing more. */
  write(data: Buffer): Promise<void>;
  closeStdin(): void;
  resize(cols: number, rows: number): Promise<void>;
  /** Resolves with the exit code once the process has exited and output is drained. */
  exitCode(): Promise<number>;
  kill(): void;
}

export interface DriverInfo {
  version: string;
  seccomp: boolean;
  /** OCI runtimes the engine has registered (runc, runsc, …) → their runtimeArgs. */
  runtimes: Record<string, readonly string[]>;
}

/** What a backend can do, so callers ask instead of assuming Docker. */
export interface DriverCapabilities {
  /** The backend's name in status and messages (`docker`; a Kubernetes driver would say `kubernetes`). */
  name: string;
  /** Can freeze every process of a sandbox and thaw it (Docker: the cgroup freezer). */
  pause: boolean;
}

/**
 * How a sandbox reaches the daemon's per-session agent channel, a transport the
 * driver provides: the daemon listens on unix sockets in a host directory, and the
 * runner finds the same sockets under `dirInSandbox`. Callers hand the whole value
 * to `SandboxManager.start` (`agentChannel`) without looking inside; what carries
 * it is the driver's business (Docker: a bind mount of that directory into this
 * one container, which the manager passes on with the sandbox's other mounts).
 */
export interface AgentChannelTransport {
  dirInSandbox: string;
  /** What the driver needs mounted to connect it; opaque to callers. */
  readonly mounts: readonly SandboxMount[];
}

/**
 * The agent-runner bundle a session's sandbox runs, as the daemon ships it: one
 * file in a host directory. Callers ask for it by meaning (`StartRequest.runner`);
 * how it gets in is the driver's business (`runnerTransport`; Docker: a read-only
 * bind mount of that file, a Kubernetes driver could use an image layer or an
 * init container). Wherever it comes from, the sandbox sees it read-only at
 * `pathInSandbox`, the path the session's runner command names.
 */
export interface RunnerBundle {
  /** Host directory holding the bundle (`<install>/dist/agent-runner`); absolute. */
  bundleDir: string;
  /** The bundle's file in that directory (`loki-agent-runner.cjs`): a plain file name. */
  entry: string;
  /** Where the sandbox finds it (`/opt/loki/agent-runner.cjs`); absolute. */
  pathInSandbox: string;
}

/** How the runner bundle reaches a sandbox, from the driver; like AgentChannelTransport, opaque to callers. */
export interface RunnerTransport {
  readonly pathInSandbox: string;
  /** What the driver needs mounted to carry it in. */
  readonly mounts: readonly SandboxMount[];
}

export interface ImageBuildRequest {
  tag: string;
  /** Rebuild even if the tag exists. */
  force: boolean;
  /** Install Claude Code (this npm version or tag) into the image. */
  claudeVersion?: string;
}

export interface ImageBuildEvent {
  phase: 'check' | 'bootstrap' | 'user' | 'node' | 'claude' | 'import' | 'done';
  message: string;
  percent: number;
  imageId?: string;
  reused?: boolean;
}

export interface ImageInfo {
  id: string;
  sizeBytes: number;
  createdAtMs: number;
}

/** The narrow seam the SandboxManager drives. One implementation per backend. */
export interface SandboxDriver {
  readonly capabilities: DriverCapabilities;
  info(): Promise<DriverInfo>;
  imageExists(image: string): Promise<boolean>;
  /** The image as the backend has it, or undefined when it has none by that name. */
  imageInfo(image: string): Promise<ImageInfo | undefined>;
  /** Builds (or, unless `force`, reuses) the sandbox base image under `req.tag`, reporting progress. */
  buildImage(req: ImageBuildRequest, onEvent: (e: ImageBuildEvent) => void, signal: AbortSignal): Promise<{ imageId: string; reused: boolean }>;
  /** How the session's agent channel, whose sockets the daemon binds in `hostDir`, reaches its sandbox. */
  agentChannelMount(sessionId: string, hostDir: string): AgentChannelTransport;
  /** How the runner bundle reaches a sandbox; throws failed_precondition when the bundle is missing or not a plain file, invalid_config when it is malformed. */
  runnerTransport(bundle: RunnerBundle): RunnerTransport;
  /** Throws failed_precondition when a mount the daemon makes on the host (a size-limited workspace) would not reach this backend's sandboxes. */
  assertSeesHostMounts(): void;
  create(spec: SandboxCreateSpec, hardening: ResolvedHardening): Promise<SandboxInfo>;
  list(): Promise<SandboxInfo[]>;
  get(id: string): Promise<SandboxInfo | undefined>;
  logs(id: string, opts: LogOptions, signal: AbortSignal): AsyncIterable<LogChunk>;
  exec(id: string, opts: ExecOptions): Promise<ExecSession>;
  stop(id: string, timeoutSeconds: number): Promise<void>;
  remove(id: string, force: boolean): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
}

/** Hardening as the driver must apply it (resolved from config + request, two keys). */
export interface ResolvedHardening {
  summary: HardeningSummary;
  /** The seccomp profile JSON (inline, as the engine API wants it). */
  seccompJson: string;
  tmpfsSize: number;
  /** uid:gid the main process and every exec run as. */
  user: string;
  /** The OCI runtime (runc or runsc/gVisor), checked against the engine after create. */
  runtime: string;
}
