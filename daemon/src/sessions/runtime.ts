// In-memory side of the session manager, in parts: the event log (appends and
// transitions through the injected SessionRepo, change notification for
// followers) and the per-session timers. Everything here can be rebuilt from the
// store after a restart; nothing here is a source of truth. (Approval waits are
// policy's, policy/approval-waits.ts; model proxies are agent's, agent/model-proxies.ts.)
import type { EventEmitter } from 'node:events';
import type { Logger } from '../../../common/src/index.js';
import type { AuditLog } from '../audit/types.js';
import type { Caller } from '../authz/caller.js';
import { SessionEventLog } from './event-log.js';
import type { SessionRepo } from './repo.js';
import { SessionTimers } from './timers.js';

export interface SessionRuntimeOptions {
  store: SessionRepo;
  emitter: EventEmitter;
  log: Logger;
  clock: () => number;
  audit: AuditLog;
}

export class SessionRuntime {
  /** Appends, transitions and their followers. */
  readonly events: SessionEventLog;
  /** Stop grace and re-arm timers; single-flight ending. */
  readonly timers = new SessionTimers();

  constructor(private readonly o: SessionRuntimeOptions) {
    this.events = new SessionEventLog({ store: o.store, emitter: o.emitter, log: o.log, clock: o.clock });
  }

  /** The sessions' repository (reads; writes that announce themselves go through `events`). */
  get store(): SessionRepo {
    return this.o.store;
  }

  /** `caller` undefined = the daemon itself (a session ending on its own). */
  auditAs(caller: Caller | undefined, action: string, sessionId: string, result: 'success' | 'denied' | 'error', details: Record<string, unknown>, reason?: string): Promise<void> {
    return this.o.audit.record({
      action,
      user: caller?.subject ?? 'system',
      resource: `session:${sessionId}`,
      details,
      result,
      ...(caller ? { ip: caller.clientIp, request_id: caller.requestId } : {}),
      ...(reason ? { reason } : {}),
    });
  }

  close(): void {
    this.timers.close();
  }
}
