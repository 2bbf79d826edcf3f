// Decides waiting for a human, per session. An agent's Decide whose verdict is
// `ask` blocks on its approval (ApprovalStore.waitForDecision) under one of these
// controllers: stopping the session aborts them (the runner gets a deny and the
// approval stays for a re-ask), and whether any is left decides if a resumed
// session is running or still waiting for approval.
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

  cancelAll(): void {
    for (const set of this.waits.values()) for (const ac of set) ac.abort();
  }
}
