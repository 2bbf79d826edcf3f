// The loki_* session metrics (Loki Mode names), computed from the daemon's
// SessionService/Metrics at scrape time. One daemon call per scrape serves every
// family. Per-session series exist only for the sessions the daemon reports
// (active ones plus the last few finished: bounded label cardinality).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Session, SessionMetrics } from '../../client/src/index.js';

import { sessionStatusValue } from '../../common/src/vocab.js';

export { sessionStatusValue };

export function registerSessionMetrics(registry: Registry, fetch: (() => Promise<SessionMetrics>) | undefined): void {
  let cached: { at: number; p: Promise<SessionMetrics | undefined> } | undefined;
  // Every family's collect() runs in the same scrape: share one daemon call.
  const snapshot = (): Promise<SessionMetrics | undefined> => {
    const now = Date.now();
    if (!cached || now - cached.at > 500) cached = { at: now, p: fetch ? fetch().catch(() => undefined) : Promise.resolve(undefined) };
    return cached.p;
  };
  const registers = [registry];
  const perSession = (name: string, help: string, value: (s: Session) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['session'],
      registers,
      async collect() {
        this.reset();
        const m = await snapshot();
        for (const s of m?.sessions ?? []) this.set({ session: s.id }, value(s));
      },
    });
  perSession('loki_session_status', 'Session status: 0 stopped, 1 running, 2 paused.', (s) => sessionStatusValue(s.state));
  perSession('loki_iteration_current', 'Current iteration of the session.', (s) => s.iteration);
  perSession('loki_iteration_max', 'Configured iteration cap of the session.', (s) => s.max_iterations);
  perSession('loki_agents_active', 'Active agents in the session.', (s) => s.agents.active);
  perSession('loki_cost_usd', 'Estimated cost of the session in USD.', (s) => s.cost_usd);
  perSession('loki_uptime_seconds', 'Session uptime in seconds.', (s) => s.uptime_seconds);
  // `_total` families are counters (promtool's naming rule). Their values live in
  // the daemon and only grow, so each scrape resets the family and sets the daemon's totals.
  const counter = (name: string, help: string, labelNames: string[], fill: (m: SessionMetrics, add: (labels: Record<string, string>, v: number) => void) => void) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        const m = await snapshot();
        if (m) fill(m, (labels, v) => v > 0 && this.inc(labels, v));
      },
    });
  counter('loki_tasks_total', 'Tasks that reached each status, by session and status.', ['session', 'status'], (m, add) => {
    for (const s of m.sessions) {
      add({ session: s.id, status: 'pending' }, s.tasks_reached.pending);
      add({ session: s.id, status: 'in_progress' }, s.tasks_reached.in_progress);
      add({ session: s.id, status: 'completed' }, s.tasks_reached.completed);
      add({ session: s.id, status: 'failed' }, s.tasks_reached.failed);
    }
  });
  counter('loki_agents_total', 'Agents registered by the session.', ['session'], (m, add) => {
    for (const s of m.sessions) add({ session: s.id }, s.agents.total);
  });
  counter('loki_events_total', 'Events recorded by the session.', ['session'], (m, add) => {
    for (const s of m.sessions) add({ session: s.id }, s.events_total);
  });
  counter('loki_sessions_created_total', 'Sessions created.', [], (m, add) => add({}, m.created_total));
  counter('loki_policy_decisions_total', 'Policy decisions on agent actions, by decision.', ['decision'], (m, add) => {
    for (const d of ['allow', 'deny', 'ask'] as const) add({ decision: d }, m.decisions[d]);
  });
  const scalar = (name: string, help: string, value: (m: SessionMetrics) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.reset();
        const m = await snapshot();
        if (m) this.set(value(m));
      },
    });
  scalar('loki_sessions_active', 'Sessions not yet completed, failed or stopped.', (m) => m.active);
  scalar('loki_approvals_pending', 'Approvals waiting for a human.', (m) => m.approvals_pending);
}
