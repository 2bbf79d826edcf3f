// Audit under a flood (issue: nothing lost): for --seconds (default 30) two wrk
// processes hammer loki-gateway + lokid at once — one with a valid token far over
// its rate limit (a 429 flood), one with a wrong token from the same address (an
// auth-failure flood that triggers the lockout). Afterwards the audit log is read
// back over the admin socket and its counts compared with what the gateway says it
// refused (/metrics): every refusal must be accounted for, none dropped.
// --sources N adds a third wrk: wrong tokens from N client addresses (X-Forwarded-For
// through a trusted proxy), which defeats the gateway's per-address counting, so
// nearly every attempt is its own Record call. While the floods run, the gateway's
// delivered audit events are sampled every second: the peak is the honest gateway's
// highest Record rate, what lokid's bound (audit.gateway_records_per_second) must
// absorb without losing anything. Extra lokid settings: --daemon-env K=V (repeatable).
// Prints the counts, the entries written and the ratio; no assertions.
// Run: npm run build && node dist/bench/audit-flood.js [--seconds 30] [--connections 50] [--sources 0] [--daemon-env K=V]
import { credentials, Metadata } from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditServiceClient, type AuditEntry, type QueryAuditResponse } from '../proto/gen/loki/v1/audit.js';
import { fmt, freePort, requireWrk, startStack, wrk } from './lib/stack.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    connections: { type: 'string', default: '50' },
    sources: { type: 'string', default: '0' },
    'daemon-env': { type: 'string', multiple: true, default: [] },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const sources = Number(values.sources);
const daemonEnv = Object.fromEntries(values['daemon-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

/** A wrk script: each request a wrong token from one of `n` addresses (10.x.y.z), chosen at random. */
function manySourcesScript(dir: string, n: number): string {
  const file = join(dir, 'many-sources.lua');
  writeFileSync(
    file,
    `math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
  local i = math.random(0, ${n - 1})
  local ip = "10." .. math.floor(i / 65536) % 256 .. "." .. math.floor(i / 256) % 256 .. "." .. i % 256
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer loki_${'V'.repeat(43)}", ["X-Forwarded-For"] = ip })
end
`,
  );
  return file;
}

/** Samples a counter every second while `running()`; resolves with the largest one-second increase. */
async function peakPerSecond(read: () => Promise<number>, running: () => boolean): Promise<number> {
  let peak = 0;
  let last = await read();
  while (running()) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await read().catch(() => last);
    peak = Math.max(peak, now - last);
    last = now;
  }
  return peak;
}

async function allEntries(adminSocket: string, action: string): Promise<AuditEntry[]> {
  const c = new AuditServiceClient(`unix:${adminSocket}`, credentials.createInsecure());
  const out: AuditEntry[] = [];
  try {
    let cursor = 0;
    for (;;) {
      const page = await new Promise<QueryAuditResponse>((resolve, reject) =>
        c.query({ limit: 1000, action, user: '', result: '', since: '', until: '', cursor }, new Metadata(), (err, res) => (err ? reject(err) : resolve(res))),
      );
      out.push(...page.entries);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  } finally {
    c.close();
  }
}

/** Sum of one metric's samples whose labels include `labels` (Prometheus text format). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})?\s+([\d.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

const count = (e: AuditEntry) => {
  const d = JSON.parse(e.detailsJson || '{}') as { count?: unknown };
  return typeof d.count === 'number' ? d.count : 1;
};

async function main(): Promise<void> {
  requireWrk();
  // Realistic limits: 600/min per subject, the default lockout (5 failures).
  // Metrics come from the private listener (no auth): the flood locks its own address out of the main one.
  const metricsAt = `127.0.0.1:${await freePort()}`;
  const stack = await startStack({
    gatewayEnv: {
      LOKI_RATE_LIMIT_PER_MINUTE: '600',
      LOKI_RATE_LIMIT_BURST: '20',
      LOKI_RATE_LIMIT_CONCURRENCY: '8',
      LOKI_METRICS_LISTEN: metricsAt,
      ...(sources > 0 ? { LOKI_TRUSTED_PROXIES: '127.0.0.1' } : {}),
    },
    daemonEnv,
  });
  try {
    const flooder = { authorization: `Bearer ${await stack.token('flooder')}` };
    const wrong = { authorization: `Bearer loki_${'W'.repeat(43)}` };
    let running = true;
    const forwarded = async () => metric(await (await fetch(`http://${metricsAt}/metrics`)).text(), 'loki_audit_events_forwarded_total');
    const peak = peakPerSecond(forwarded, () => running);
    const [rate, auth, spread] = await Promise.all([
      wrk(`${stack.url}/api/sessions`, { seconds, connections, headers: flooder }),
      wrk(`${stack.url}/api/sessions`, { seconds, connections: Math.max(1, Math.floor(connections / 5)), headers: wrong }),
      sources > 0 ? wrk(`${stack.url}/api/sessions`, { seconds, connections: Math.max(1, Math.floor(connections / 5)), script: manySourcesScript(stack.home, sources) }) : undefined,
    ]).finally(() => (running = false));
    process.stdout.write(`429 flood:          ${fmt(rate)}\nauth-failure flood: ${fmt(auth)}\n`);
    if (spread) process.stdout.write(`${sources} sources flood: ${fmt(spread)}\n`);
    process.stdout.write(`gateway Record calls delivered: peak ${await peak}/s\n`);
    // Let the gateway's counted entries close their window (10 s) and reach the log.
    // Then wait for its buffer to empty (a low audit.gateway_records_per_second makes it drain slowly).
    await new Promise((r) => setTimeout(r, 12_000));
    let m = await (await fetch(`http://${metricsAt}/metrics`)).text();
    for (let i = 0; i < 600 && metric(m, 'loki_audit_events_buffered') > 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      m = await (await fetch(`http://${metricsAt}/metrics`)).text();
    }
    const refusedRate = metric(m, 'loki_rate_limit_rejections_total', { scope: 'subject' });
    const refusedAuth = metric(m, 'loki_auth_failures_total');
    const refusedIp = metric(m, 'loki_rate_limit_rejections_total', { scope: 'ip' });
    const dropped = metric(m, 'loki_audit_events_dropped_total');
    const aggregated = metric(m, 'loki_audit_events_aggregated_total');
    const throttled = metric(m, 'loki_audit_events_throttled_total');
    const rl = (await allEntries(stack.adminSocket, 'rate_limit.reject')).filter((e) => e.resource.startsWith('route:'));
    const af = (await allEntries(stack.adminSocket, 'auth.fail')).filter((e) => e.resource.startsWith('route:'));
    const rlSubject = rl.filter((e) => e.user === 'token:flooder');
    const rlIp = rl.filter((e) => e.user !== 'token:flooder');
    const sum = (xs: AuditEntry[]) => xs.reduce((n, e) => n + count(e), 0);
    process.stdout.write(`\nAudit under a ${seconds}s flood (${rate.requests + auth.requests + (spread?.requests ?? 0)} requests)\n`);
    process.stdout.write(`rate_limit.reject (subject): gateway refused ${refusedRate}, log accounts for ${sum(rlSubject)} in ${rlSubject.length} entries\n`);
    process.stdout.write(`rate_limit.reject (address): gateway refused ${refusedIp}, log accounts for ${sum(rlIp)} in ${rlIp.length} entries\n`);
    process.stdout.write(`auth.fail (incl. locked out): gateway refused ${refusedAuth}, log accounts for ${sum(af)} in ${af.length} entries\n`);
    process.stdout.write(`events folded into counted entries: ${aggregated}; dropped: ${dropped} (goal 0)\n`);
    const throttle = await allEntries(stack.adminSocket, 'audit.gateway_throttle');
    process.stdout.write(`sends lokid refused as over audit.gateway_records_per_second (retried): ${throttled}; its audit.gateway_throttle entries: ${throttle.length} counting ${throttle.reduce((n, e) => n + count(e), 0)}\n`);
    const total = refusedRate + refusedAuth + refusedIp;
    const logged = sum(rlSubject) + sum(rlIp) + sum(af);
    process.stdout.write(`accounted / refused: ${logged} / ${total} = ${(logged / total).toFixed(4)} (goal 1.0000); entries per refusal: ${((rl.length + af.length) / total).toFixed(5)}\n`);
  } finally {
    await stack.stop();
  }
}

void main();
