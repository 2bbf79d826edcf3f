// Overview: small charts from the gateway's /metrics, sampled every 5 s.
import { useEffect, useState } from 'preact/hooks';
import { api, useLoad } from '../util.js';

type Samples = Map<string, number>;

/** Prometheus text → "name{labels}" → value (comments and malformed lines skipped). */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function sum(s: Samples, name: string, filter?: (labels: string) => boolean): number {
  let t = 0;
  for (const [k, v] of s) {
    const i = k.indexOf('{');
    const n = i < 0 ? k : k.slice(0, i);
    if (n === name && (!filter || filter(i < 0 ? '' : k.slice(i)))) t += v;
  }
  return t;
}

interface Point {
  t: number;
  rps: number;
  latencyMs: number;
}

function Spark({ values, label, unit }: { values: number[]; label: string; unit: string }) {
  const w = 240;
  const h = 48;
  const max = Math.max(1e-9, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${h - (v / max) * (h - 4) - 2}`).join(' ');
  const last = values[values.length - 1] ?? 0;
  return (
    <figure class="tile">
      <figcaption>
        {label}: <strong>{last.toFixed(last < 10 ? 2 : 0)}</strong> {unit}
      </figcaption>
      {values.length < 2 ? (
        <p class="muted">Collecting samples (every 5 s)…</p>
      ) : (
        <svg viewBox={`0 0 ${w} ${h}`} width="100%" height={h} role="img" aria-label={`${label} over the last ${values.length} samples`}>
          <polyline class="spark" points={pts} fill="none" />
        </svg>
      )}
    </figure>
  );
}

function Bars({ data, label }: { data: [string, number][]; label: string }) {
  const max = Math.max(1, ...data.map(([, v]) => v));
  return (
    <figure class="tile">
      <figcaption>{label}</figcaption>
      <svg viewBox={`0 0 240 ${data.length * 22}`} width="100%" height={data.length * 22} role="img" aria-label={`${label}: ${data.map(([k, v]) => `${k} ${v}`).join(', ')}`}>
        {data.map(([k, v], i) => (
          <g key={k}>
            <text x="0" y={i * 22 + 15} class="bar-label">
              {k}
            </text>
            <rect x="60" y={i * 22 + 4} height="14" width={Math.max(1, (v / max) * 150)} class={`bar bar-${k}`} />
            <text x={66 + (v / max) * 150} y={i * 22 + 15} class="bar-value">
              {v}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

export function Overview() {
  const [now, setNow] = useState<Samples>();
  const [series, setSeries] = useState<Point[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    let prev: { t: number; s: Samples } | undefined;
    const tick = async () => {
      try {
        const s = parseMetrics(await api.metricsText());
        const t = Date.now();
        setNow(s);
        setError(undefined);
        if (prev) {
          const dt = (t - prev.t) / 1000;
          const dreq = sum(s, 'http_requests_total') - sum(prev.s, 'http_requests_total');
          const dsum = sum(s, 'http_request_duration_seconds_sum') - sum(prev.s, 'http_request_duration_seconds_sum');
          const dcount = sum(s, 'http_request_duration_seconds_count') - sum(prev.s, 'http_request_duration_seconds_count');
          setSeries((cur) => [...cur.slice(-59), { t, rps: dreq / dt, latencyMs: dcount > 0 ? (dsum / dcount) * 1000 : 0 }]);
        }
        prev = { t, s };
      } catch (err) {
        setError((err as Error).message);
      }
    };
    void tick();
    const timer = setInterval(tick, 5000);
    return () => clearInterval(timer);
  }, []);
  const driver = useLoad(() => api.status(), []).data?.daemon.sandbox_driver;
  const decisions: [string, number][] = ['allow', 'deny', 'ask'].map((k) => [k, now ? sum(now, 'loki_policy_decisions_total', (l) => l.includes(`"${k}"`)) : 0]);
  // loki_session_status is one gauge per session: 0 stopped, 1 running, 2 paused.
  const status = now ? [...now].filter(([k]) => k.startsWith('loki_session_status{')).map(([, v]) => v) : [];
  const states: [string, number][] = [
    ['running', status.filter((v) => v === 1).length],
    ['paused', status.filter((v) => v === 2).length],
    ['ended', status.filter((v) => v === 0).length],
  ];
  return (
    <section>
      <h1 tabIndex={-1}>Overview</h1>
      {error ? <p class="error" role="alert">{error}</p> : null}
      <div class="tiles">
        <div class="tile stat">
          <span class="big">{now ? sum(now, 'loki_sessions_active') : '—'}</span> active sessions
        </div>
        <div class="tile stat">
          <a href="#/approvals">
            <span class="big">{now ? sum(now, 'loki_approvals_pending') : '—'}</span> approvals pending
          </a>
        </div>
        <div class="tile stat">
          <span class="big">{now ? sum(now, 'loki_sessions_created_total') : '—'}</span> sessions created
        </div>
        <div class="tile stat driver">
          <span class="big">{driver?.name ?? '—'}</span> {driver ? `sandbox driver, ${driver.reachable ? `reachable (${driver.version})` : 'NOT reachable'}${driver.can_pause ? '' : ', cannot pause'}` : 'sandbox driver'}
        </div>
        <Bars label="Policy decisions" data={decisions} />
        <Bars label="Sessions by state" data={states} />
        <Spark label="Request rate" unit="req/s" values={series.map((p) => p.rps)} />
        <Spark label="Mean latency" unit="ms" values={series.map((p) => p.latencyMs)} />
      </div>
    </section>
  );
}
