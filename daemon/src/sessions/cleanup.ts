// Ended sessions' leftovers: the workspace (and its size-limited volume) and
// any container still there. Removed after `sessions.workspace.retention_hours`,
// or on `loki sessions rm ID` / `loki sessions prune`. The session record, its
// events and the audit log stay: only disk space goes.
import { LokiError, type Logger } from '../../../common/src/index.js';
import type { WorkspaceManager } from '../git/workspaces.js';
import { canAccessOwned, requireScope, type Caller } from '../authz/caller.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { SessionRuntime } from './runtime.js';
import { isTerminal, type Session } from './types.js';
import { formatBytes } from '../../../common/src/display.js';
import { measure, type WorkspaceVolumes } from './workspace-volume.js';

export interface SessionCleanupOptions {
  rt: SessionRuntime;
  sandboxes: SandboxManager;
  volumes: WorkspaceVolumes;
  workspaces: WorkspaceManager;
  retentionHours: number;
  clock: () => number;
  log: Logger;
}

/** At most this many sessions are cleaned per check, so one tick stays short. */
const EXPIRE_BATCH = 20;

export class SessionCleanup {
  /** Removals under way, by session: `rm` racing `rm`, `prune` or retention joins the one running. */
  private readonly removing = new Map<string, Promise<number>>();

  constructor(private readonly o: SessionCleanupOptions) {}

  /** Ended, with something left to remove (a session that failed before its workspace existed has nothing). */
  private removable(s: Session): boolean {
    return isTerminal(s.state) && s.workspaceRemovedAtMs === 0 && Boolean(s.workspace || s.sandboxId);
  }

  /**
   * Removes one ended session's workspace and container; `caller` undefined = retention.
   * Returns the bytes freed, 0 when another removal did it (that one is audited, once).
   */
  async remove(caller: Caller | undefined, s: Session, why: string): Promise<number> {
    if (!isTerminal(s.state)) throw new LokiError('failed_precondition', `session ${s.id} is ${s.state}; stop it first (loki stop ${s.id})`);
    const running = this.removing.get(s.id);
    if (running) return running.then(() => 0);
    const removal = this.removeNow(caller, s.id, why).finally(() => this.removing.delete(s.id));
    this.removing.set(s.id, removal);
    return removal;
  }

  private async removeNow(caller: Caller | undefined, id: string, why: string): Promise<number> {
    // The record the caller holds may predate a removal that has finished since.
    const s = await this.o.rt.store.get(id);
    if (!s || s.workspaceRemovedAtMs) return 0;
    if (s.sandboxId) await this.o.sandboxes.teardown(caller, s.sandboxId);
    let freed = 0;
    if (s.workspace) {
      freed = await this.o.volumes.release(s.id, s.workspace);
      try {
        await this.o.workspaces.removeWorkspaceDir(s.id);
      } catch (err) {
        if (!(err instanceof LokiError && err.code === 'workspace_not_found')) throw err;
      }
    }
    // Audited before it shows: whoever sees the workspace marked removed finds the entry.
    await this.o.rt.auditAs(caller, 'session.remove', s.id, 'success', { reason: why, freed_bytes: freed, sandbox: s.sandboxId || null });
    // A compare-and-set as well, for a store shared by more than this daemon: whoever marks it first announces it.
    if (!(await this.o.rt.store.markWorkspaceRemoved(s.id))) return 0;
    await this.o.rt.events.append(s.id, 'workspace_removed', `workspace and container removed (${why}); ${formatBytes(freed)} freed`, { reason: why, freed_bytes: freed });
    this.o.log.info({ session_id: s.id, freed_bytes: freed, reason: why }, 'session workspace removed');
    return freed;
  }

  /** `loki sessions rm ID`. */
  async removeOne(caller: Caller, s: Session): Promise<number> {
    requireScope(caller, 'control');
    return this.remove(caller, s, `removed by ${caller.subject}`);
  }

  /** `loki sessions prune`: every ended session the caller may control, ended at least `olderThanMs` ago. */
  async prune(caller: Caller, olderThanMs: number, dryRun: boolean): Promise<{ removed: string[]; freedBytes: number }> {
    requireScope(caller, 'control');
    if (!Number.isSafeInteger(olderThanMs) || olderThanMs < 0) throw new LokiError('invalid_argument', 'older_than_seconds must be a non-negative integer');
    const cutoff = this.o.clock() - olderThanMs;
    const due = (await this.o.rt.store.endedWithLeftovers(cutoff)).filter((s) => this.removable(s) && s.endedAtMs <= cutoff && canAccessOwned(caller, s.owner));
    if (dryRun) return { removed: due.map((s) => s.id), freedBytes: 0 };
    const removed: string[] = [];
    let freedBytes = 0;
    for (const s of due) {
      freedBytes += await this.remove(caller, s, `pruned by ${caller.subject}`);
      removed.push(s.id);
    }
    await this.o.rt.auditAs(caller, 'session.prune', '*', 'success', { older_than_seconds: Math.round(olderThanMs / 1000), removed, freed_bytes: freedBytes });
    return { removed, freedBytes };
  }

  /**
   * `watch` enforcement (no size-limited mount here): running sessions whose
   * workspace is over the limit, with the reason to stop them with.
   */
  async overLimit(running: Session[]): Promise<{ id: string; reason: string }[]> {
    const out: { id: string; reason: string }[] = [];
    for (const s of running) {
      if (!s.workspace || !this.o.volumes.needsWatch(s.workspace)) continue;
      const used = await measure(s.workspace).catch(() => 0);
      if (used > this.o.volumes.maxBytes) {
        out.push({ id: s.id, reason: `the workspace uses ${formatBytes(used)}, over sessions.workspace.max_size (${formatBytes(this.o.volumes.maxBytes)})` });
      }
    }
    return out;
  }

  /** Retention: removes workspaces of sessions that ended more than retention_hours ago. */
  async expire(): Promise<void> {
    if (!this.o.retentionHours) return;
    const cutoff = this.o.clock() - this.o.retentionHours * 3_600_000;
    // Every check_interval_ms: ask the store for the candidates, never load every session.
    const due = (await this.o.rt.store.endedWithLeftovers(cutoff)).filter((s) => this.removable(s) && s.endedAtMs > 0 && s.endedAtMs <= cutoff).slice(0, EXPIRE_BATCH);
    for (const s of due) {
      await this.remove(undefined, s, `retention: ended more than ${this.o.retentionHours}h ago (sessions.workspace.retention_hours)`).catch((err: unknown) =>
        this.o.log.warn({ err, session_id: s.id }, 'removing an expired workspace failed'),
      );
    }
  }
}
