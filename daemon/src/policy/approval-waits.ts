// Decides waiting for a human, per session. An agent's Decide whose verdict is
// `ask` blocks on its approval (ApprovalStore.waitForDecision) under one of these
// controllers: stopping the session aborts them (the runner gets a deny and the
// approval stays for a re-ask), closing the daemon aborts them with DAEMON_CLOSING
// (the runner gets UNAVAILABLE and asks the restarted daemon again), and whether
// any is left decides if a resumed session is running or still waiting for approval.
import { LokiError } from '../../../common/src/index.js';

/** The abort reason of waits ended by the daemon closing: the Decide fails UNAVAILABLE instead of denying. */
export const DAEMON_CLOSING = new LokiError('unavailable', 'the daemon is shutting down; ask again after it restarts (the approval stays)');

export class ApprovalWaits {
  private readonly waits = new Map<string, Set<AbortController>>();

  /** Registers a Decide waiting for a human; the returned controller aborts it (stop). */
  begin(sessionId: string): AbortController {
    const ac = new AbortController();
    let set = this.waits.get(sessionId);
    if (!set) this.waits.set(sessionId, (set = new Set()));
    set.add(ac);
    return ac;
  }

  /** Ends one wait; returns how many of the session's are left. */
  end(sessionId: string, ac: AbortController): number {
    const set = this.waits.get(sessionId);
    set?.delete(ac);
    if (set && set.size === 0) this.waits.delete(sessionId);
    return set?.size ?? 0;
  }

  count(sessionId: string): number {
    return this.waits.get(sessionId)?.size ?? 0;
  }

  cancel(sessionId: string): void {
    for (const ac of this.waits.get(sessionId) ?? []) ac.abort();
  }

  /** The daemon is closing: the waiting Decides fail with DAEMON_CLOSING, so the runners re-ask after a restart. */
  cancelAll(): void {
    for (const set of this.waits.values()) for (const ac of set) ac.abort(DAEMON_CLOSING);
  }
}
