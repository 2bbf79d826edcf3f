// Decides waiting for a human, per session. An agent's Decide whose verdict is
// `ask` blocks on its approval (ApprovalStore.waitForDecision) under one of these
// controllers: stopping the session aborts them (the runner gets a deny and the
// approval stays for a re-ask), closing the daemon aborts them with DAEMON_CLOSING
// (the runner gets UNAVAILABLE and asks the restarted daemon again), a new runner's
// Hello aborts the older runners' numbered Decides with RUNNER_REPLACED, and whether
// any is left decides if a resumed session is running or still waiting for approval.
import { LokiError } from '../../../common/src/index.js';

/** The abort reason of waits ended by the daemon closing: the Decide fails UNAVAILABLE instead of denying. */
export const DAEMON_CLOSING = new LokiError('unavailable', 'the daemon is shutting down; ask again after it restarts (the approval stays)');

/**
 * The abort reason of a numbered Decide's wait when a newer runner said Hello: the old runner is
 * gone, so its call ends with an error, never an allow (the approval stays for the new runner).
 */
export const RUNNER_REPLACED = new LokiError('runner_replaced', 'a new agent-runner said Hello to this session; a Decide of the runner before it ends without a verdict (the approval stays for the new runner)');

export class ApprovalWaits {
  /** Per session, its waits and, for a numbered Decide, the runner generation it belongs to. */
  private readonly waits = new Map<string, Map<AbortController, number | undefined>>();

  /** Registers a Decide waiting for a human (`gen`: a numbered Decide's runner generation); the returned controller aborts it (stop). */
  begin(sessionId: string, gen?: number): AbortController {
    const ac = new AbortController();
    let set = this.waits.get(sessionId);
    if (!set) this.waits.set(sessionId, (set = new Map()));
    set.set(ac, gen);
    return ac;
  }

  /** A runner of generation `gen` said Hello: the numbered Decides of earlier runners end with RUNNER_REPLACED (unnumbered ones wait on, as before). */
  replaced(sessionId: string, gen: number): void {
    for (const [ac, g] of this.waits.get(sessionId) ?? []) if (g !== undefined && g < gen) ac.abort(RUNNER_REPLACED);
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
    for (const ac of this.waits.get(sessionId)?.keys() ?? []) ac.abort();
  }

  /** The daemon is closing: the waiting Decides fail with DAEMON_CLOSING, so the runners re-ask after a restart. */
  cancelAll(): void {
    for (const set of this.waits.values()) for (const ac of set.keys()) ac.abort(DAEMON_CLOSING);
  }
}
