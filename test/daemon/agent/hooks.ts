// Test AgentChannelHooks: record everything the channel hands over, and decide
// by a small rule list (deny `rm -rf /`, hold `ask …` until released, deny the
// commits of sessions in `denyCommits`).
import { LokiError } from '../../../common/src/errors.js';
import type { AgentActionRequest, AgentChannelHooks, AgentDecision, AgentEventData, SessionBriefData } from '../../../daemon/src/agent/types.js';

export interface RecordingHooks extends AgentChannelHooks {
  briefs: Map<string, SessionBriefData>;
  hellos: { sessionId: string; version: string; pid: number }[];
  decisions: { sessionId: string; req: AgentActionRequest; decision: string }[];
  events: { sessionId: string; event: AgentEventData }[];
  heartbeats: { sessionId: string; iteration: number }[];
  /** Actions whose decision is being held (the `ask` path), with their release. */
  held: { req: AgentActionRequest; signal: AbortSignal; release(d: AgentDecision): void; fail(err: Error): void }[];
  stop: Set<string>;
  /** Sessions whose commits are denied (as a policy rule would). */
  denyCommits: Set<string>;
  /** Per session, how many Hellos fail UNAVAILABLE first (lokid going away while the runner says Hello). */
  failHellos: Map<string, number>;
}

export function allow(reason = 'ok'): AgentDecision {
  return { decision: 'allow', reason, rule: 'test', approvalId: '' };
}

export function recordingHooks(brief: (sessionId: string) => SessionBriefData): RecordingHooks {
  const h: RecordingHooks = {
    briefs: new Map(),
    hellos: [],
    decisions: [],
    events: [],
    heartbeats: [],
    held: [],
    stop: new Set(),
    denyCommits: new Set(),
    failHellos: new Map(),
    async hello(sessionId, runner) {
      h.hellos.push({ sessionId, ...runner });
      const fail = h.failHellos.get(sessionId) ?? 0;
      if (fail > 0) {
        h.failHellos.set(sessionId, fail - 1);
        throw new LokiError('unavailable', 'lokid is restarting');
      }
      return h.briefs.get(sessionId) ?? brief(sessionId);
    },
    async decide(sessionId, req, signal) {
      const a = req.action;
      let d: AgentDecision;
      if (a.kind === 'shell' && /rm -rf \/(\s|$)/.test(a.command)) {
        d = { decision: 'deny', reason: 'destructive command: rm -rf /', rule: 'blocked-commands', approvalId: '' };
      } else if (a.kind === 'shell' && a.command.startsWith('ask ')) {
        d = await new Promise<AgentDecision>((resolve, reject) => {
          h.held.push({ req, signal, release: resolve, fail: reject });
          signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        });
      } else if (a.kind === 'commit' && h.denyCommits.has(sessionId)) {
        d = { decision: 'deny', reason: 'commits are reviewed by hand here', rule: 'no-commits', approvalId: '' };
      } else d = allow();
      h.decisions.push({ sessionId, req, decision: d.decision });
      return d;
    },
    async report(sessionId, events) {
      for (const event of events) h.events.push({ sessionId, event });
      return { stopRequested: h.stop.has(sessionId) };
    },
    async heartbeat(sessionId, iteration) {
      h.heartbeats.push({ sessionId, iteration });
      return { stopRequested: h.stop.has(sessionId) };
    },
  };
  return h;
}

export function scriptBrief(sessionId: string, plan: unknown, over: Partial<SessionBriefData> = {}): SessionBriefData {
  return {
    sessionId,
    provider: 'script',
    prompt: 'test',
    planJson: JSON.stringify(plan),
    model: '',
    baseUrl: '',
    maxIterations: 0,
    workspace: '/workspace',
    autonomyMode: 'autonomous',
    options: {},
    ...over,
  };
}
