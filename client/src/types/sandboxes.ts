// Sandboxes: the hardened containers, their output and exec sessions (client/src/types.ts re-exports these).
import type { Timestamp } from './common.js';

export interface Hardening {
  user: string;
  read_only_rootfs: boolean;
  cap_drop: string[];
  no_new_privileges: boolean;
  seccomp_profile: string;
  network_mode: string;
  memory_bytes: number;
  cpus: number;
  pids: number;
  privileged: boolean;
}

export interface Sandbox {
  id: string;
  name: string;
  /** One of SANDBOX_STATES (common/src/vocab.ts); a string so a newer daemon's state is shown, not rejected. */
  state: string;
  owner: string;
  project: string;
  session: string;
  image: string;
  created_at: Timestamp | null;
  /** Host path of the bind-mounted workspace. */
  workspace: string;
  exit_code: number;
  hardening: Hardening | null;
}

export interface StartSandboxInput {
  name?: string;
  project?: string;
  image?: string;
  /** Main process argv; empty = an idle shell loop. */
  command?: string[];
  env?: Record<string, string>;
  limits?: { memory_bytes?: number; cpus?: number; pids?: number };
  relax?: { network?: boolean; writable_rootfs?: boolean; root_user?: boolean };
}

export interface StopSandboxInput {
  /** Grace period before SIGKILL; 0 = the configured default. */
  timeout_seconds?: number;
  /** Keep the stopped container (default: remove it). */
  keep?: boolean;
}

export interface StopSandboxResult {
  sandbox: Sandbox;
  removed: boolean;
}

export interface SandboxLogsOptions {
  follow?: boolean;
  /** Only the last N lines (0 = all). */
  tail?: number;
  timestamps?: boolean;
  signal?: AbortSignal;
}

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

export interface ExecOptions {
  /** Empty = the sandbox's login shell. */
  argv: string[];
  tty?: boolean;
  cols?: number;
  rows?: number;
  env?: Record<string, string>;
  /** Default /workspace. */
  workdir?: string;
}

export type ExecOutput = OutputChunk | { stream: 'exit'; exit_code: number };

/** A running exec/shell: iterate its output; the last item is `{ stream: 'exit' }`. */
export interface ExecSession extends AsyncIterable<ExecOutput> {
  write(data: Uint8Array | string): void;
  resize(cols: number, rows: number): void;
  closeStdin(): void;
  /** Ends the call; the iteration then finishes without an exit item. */
  cancel(): void;
}

export interface BuildImageInput {
  tag?: string;
  force?: boolean;
  with_claude?: boolean;
  claude_version?: string;
  signal?: AbortSignal;
}

export interface BuildProgress {
  phase: string;
  message: string;
  percent: number;
  /** Set on the final (`done`) message. */
  image_id: string;
  reused: boolean;
}
