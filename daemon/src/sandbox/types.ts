// Domain types for sandboxes and the driver seam (Docker now, Kubernetes later).

export type SandboxState = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead' | 'removing';

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
  /** Extra mounts the daemon itself decides on (e.g. the per-session agent socket dir). Never user input. */
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
  write(data: Buffer): void;
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

/** The narrow seam the SandboxManager drives. One implementation per backend. */
export interface SandboxDriver {
  readonly capabilities: DriverCapabilities;
  info(): Promise<DriverInfo>;
  imageExists(image: string): Promise<boolean>;
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
