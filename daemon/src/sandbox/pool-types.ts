// The warm pool's types and its one pure rule (which start requests a slot can
// serve); the pool itself is pool.ts.
import type { Logger } from '../../../common/src/index.js';
import type { AuditLog } from '../audit/types.js';
import type { Caller } from '../authz/caller.js';
import type { SandboxConfig } from '../config.js';
import type { WorkspaceFill, WorkspaceSeeds } from '../git/workspace-fill.js';
import type { StartRequest } from './manager.js';
import type { RunnerBundle, SandboxInfo, SandboxMount } from './types.js';

/** The owner label of unclaimed slots: no token, OIDC subject or local uid can ever be this subject. */
export const POOL_OWNER = 'loki:pool';

/** The daemon itself, creating slots (audited as `loki:pool`). */
export const POOL_CALLER: Caller = { role: 'local-admin', subject: POOL_OWNER, scopes: ['*'], auth: 'local', requestId: '', clientIp: '' };

export interface ClaimRecord {
  owner: string;
  session: string;
  project: string;
  name: string;
  workspace: string;
  /** The slot's host directory (its `workspace/` and `agent/` are mount points). */
  slotDir: string;
}

export interface Slot {
  id: string;
  dir: string;
  /**
   * The session this slot is made for (`ses-<the slot directory's hex>`): the session
   * that takes the slot takes this id, so the slot's agent directory (and, with a
   * volume, its workspace) are made at that session's own paths, and a claim mounts nothing.
   */
  session: string;
  /** The image of the workspace volume made ahead (mounted at the session's workspace path); undefined without one. */
  image?: string;
}

/** A ready slot taken for a session that is about to be created (SandboxPool.reserve). */
export interface SlotReservation {
  /** The id the session must have: the slot's agent directory and workspace are made for it. */
  sessionId: string;
  /** With a volume made ahead: fills the workspace in place (WorkspaceManager.createWorkspace's `fill`). */
  fill?: WorkspaceFill;
  /** The session was not created, or failed before its claim: the slot is destroyed (never handed on). */
  cancel(): Promise<void>;
}

/** A ready slot taken for one session before its workspace is made (SandboxPool.reserve). */
export interface Reservation {
  slot: Slot;
  /** The session's workspace path, once the fill has filled the volume there. */
  dest?: string;
  /** The slot's state, asked at reserve time so the claim does not wait for Docker. */
  alive: Promise<SandboxInfo | undefined>;
  timer: NodeJS.Timeout;
}

export interface PoolStatus {
  size: number;
  ready: number;
  claimed: number;
  /** Why the pool does not run although size > 0 ('' when it runs or is off). */
  disabled: string;
}

export interface SandboxPoolOptions {
  config: SandboxConfig;
  /** `$LOKI_HOME/pool`: one directory per slot, plus `claims/`. */
  poolDir: string;
  /** The agent directory's path inside the sandbox (AGENT_DIR_IN_SANDBOX). */
  agentDirInSandbox: string;
  /** A session's agent-channel directory on the host (agentDirFor): a slot's is made there ahead. */
  agentDir: (sessionId: string) => string;
  /** The session runner's command and its bundle: a slot is pre-started with them. */
  command: readonly string[];
  /** The runner bundle's path in the sandbox: a slot running it loads it before the claim (see slotCommand). */
  preload?: string;
  runner?: RunnerBundle;
  /** Creates a slot container: SandboxManager.start as POOL_CALLER, so it gets the cold path's controls. */
  start: (req: StartRequest) => Promise<SandboxInfo>;
  /** The raw driver's view (pool slots included). */
  listAll: () => Promise<SandboxInfo[]>;
  get: (id: string) => Promise<SandboxInfo | undefined>;
  remove: (id: string) => Promise<void>;
  audit: AuditLog;
  log: Logger;
  /** Whether this daemon can mount (root, in dockerd's mount namespace). Default: uid 0. */
  canMount?: boolean;
  /**
   * Workspaces are size-limited volumes (sessions.workspace.max_size, enforced by a mount):
   * each slot gets its volume made ahead at its session's workspace path, and the session
   * fills it in place from `seeds`.
   */
  volume?: { workspacesDir: string; maxBytes: number; seeds: WorkspaceSeeds };
}

/**
 * The agent-channel mount when a slot can serve this start request, else undefined:
 * a session's sandbox with the pool's image, no relaxed control, default limits,
 * the pool's command and runner bundle, and only the agent channel mounted.
 */
export function slotCanServe(req: StartRequest, o: Pick<SandboxPoolOptions, 'config' | 'command' | 'agentDirInSandbox' | 'runner'>): SandboxMount | undefined {
  if (req.image && req.image !== o.config.image) return undefined;
  if (req.relax.network || req.relax.writableRootfs || req.relax.rootUser) return undefined;
  if (Object.values(req.limits).some((v) => v)) return undefined;
  if (req.command.length !== o.command.length || req.command.some((c, i) => c !== o.command[i])) return undefined;
  const mounts = req.agentChannel?.mounts ?? [];
  const channel = mounts.length === 1 && mounts[0]!.containerPath === o.agentDirInSandbox && !mounts[0]!.readOnly ? mounts[0] : undefined;
  const a = req.runner;
  const b = o.runner;
  const same = a && b ? a.bundleDir === b.bundleDir && a.entry === b.entry && a.pathInSandbox === b.pathInSandbox : a === b;
  return channel && same ? channel : undefined;
}
