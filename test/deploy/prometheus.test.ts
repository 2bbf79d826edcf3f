// deploy/prometheus and deploy/grafana: promtool accepts the config and rules
// and the rules' own unit tests pass; every metric the alerts and the Grafana
// board use exists — on a real gateway's /metrics (in front of a real lokid) or
// in the textfile loki-health-textfile.sh writes from a real lokid.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { entryArgv, shortTempDir } from '../helpers/entry.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { DEPLOY, freePort, requireTool, startProcess, until } from './helpers.js';

const PROM = join(DEPLOY, 'prometheus');
// Async: the test daemon runs in this process and must keep answering the script's CLI.
const run = promisify(execFile);
const METRIC = /\b(?:loki|http|process|nodejs)_[a-z0-9_]+|\bup\b/g;

function promtool(...args: string[]): string {
  const r = spawnSync('promtool', args, { cwd: PROM, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

/**
 * Metric names a scrape declares (`# TYPE`, so labelled series not yet observed
 * count too; histograms with their _bucket/_count/_sum) or carries, plus `up`.
 */
function exposed(text: string): Set<string> {
  const names = new Set<string>(['up']);
  for (const line of text.split('\n')) {
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)/.exec(line);
    if (t) {
      names.add(t[1]!);
      if (t[2] === 'histogram' || t[2] === 'summary') for (const x of ['_bucket', '_count', '_sum']) names.add(`${t[1]}${x}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

describe('deploy/prometheus and the Grafana board', function () {
  this.timeout(120_000);

  before(() => requireTool('promtool', 'prometheus'));

  it('passes promtool check config, check rules and the rules unit tests', () => {
    assert.match(promtool('check', 'config', 'prometheus.yml'), /SUCCESS/);
    assert.match(promtool('check', 'rules', 'loki-alerts.yml'), /SUCCESS: \d+ rules found/);
    assert.match(promtool('test', 'rules', 'loki-alerts.test.yml'), /SUCCESS/);
  });

  it('alerts on daemon down, approvals pending, audit verify failure, 5xx rate and rate-limit spikes', () => {
    const rules = readFileSync(join(PROM, 'loki-alerts.yml'), 'utf8');
    for (const a of ['LokiDaemonDown', 'LokiApprovalsPendingTooLong', 'LokiAuditVerifyFailed', 'LokiHigh5xxRate', 'LokiRateLimitRejectionsSpike']) assert.match(rules, new RegExp(`alert: ${a}\\n`));
  });

  describe('against a real gateway and lokid', () => {
    let d: Awaited<ReturnType<typeof startTestDaemon>>;
    let gateway: ReturnType<typeof startProcess>;
    let dir: string;
    let names: Set<string>;

    before(async () => {
      d = await startTestDaemon();
      dir = shortTempDir('lkprom');
      const [port, metricsPort] = [await freePort(), await freePort()];
      gateway = startProcess(process.execPath, entryArgv('gateway'), {
        PATH: process.env.PATH!,
        LOKI_HOME: d.home,
        LOKI_DAEMON_SOCKET: d.paths.gatewaySocket,
        LOKI_API_HOST: '127.0.0.1',
        LOKI_API_PORT: String(port),
        LOKI_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      });
      await until('the gateway', async () => (await fetch(`http://127.0.0.1:${port}/healthz/live`)).ok);
      // Traffic so that labelled series (status, reason, method, code) exist.
      await fetch(`http://127.0.0.1:${port}/api/status`);
      await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: 'Bearer loki_wrong' } });
      const text = await until('/metrics', async () => {
        const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        return r.ok ? r.text() : undefined;
      });
      await run(join(PROM, 'loki-health-textfile.sh'), [dir], { env: { PATH: process.env.PATH!, LOKI_BIN: `${process.execPath} ${entryArgv('cli').join(' ')}`, LOKI_SOCKET: d.paths.adminSocket } });
      const textfile = readFileSync(join(dir, 'loki.prom'), 'utf8');
      assert.match(textfile, /^loki_daemon_up 1$/m);
      assert.match(textfile, /^loki_audit_verify_ok 1$/m);
      names = new Set([...exposed(text), ...exposed(textfile)]);
    });
    after(async () => {
      await gateway?.stop();
      await d?.cleanup();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the alert rules use only metrics that exist', () => {
      const used = new Set(readFileSync(join(PROM, 'loki-alerts.yml'), 'utf8').split('\n').filter((l) => /^\s+expr:/.test(l)).flatMap((l) => l.match(METRIC) ?? []));
      const missing = [...used].filter((n) => !names.has(n));
      assert.deepEqual(missing, [], `not exposed: ${missing.join(', ')}`);
      assert.ok(used.size >= 8);
    });

    it('the Grafana board uses only metrics that exist', () => {
      const board = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'loki-gateway.json'), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
      const used = new Set(board.panels.flatMap((p) => p.targets ?? []).flatMap((t) => t.expr.match(METRIC) ?? []));
      const missing = [...used].filter((n) => !names.has(n));
      assert.deepEqual(missing, [], `not exposed: ${missing.join(', ')}`);
      assert.ok(used.size >= 10, `the board should chart the gateway's metrics, found ${[...used].join(', ')}`);
    });

    it('the textfile reports lokid down when it does not answer', async () => {
      const off = shortTempDir('lkprom');
      try {
        await run(join(PROM, 'loki-health-textfile.sh'), [off], { env: { PATH: process.env.PATH!, LOKI_BIN: `${process.execPath} ${entryArgv('cli').join(' ')}`, LOKI_SOCKET: join(off, 'nothing.sock') } });
        const t = readFileSync(join(off, 'loki.prom'), 'utf8');
        assert.match(t, /^loki_daemon_up 0$/m);
        assert.doesNotMatch(t, /^loki_audit_verify_ok/m);
      } finally {
        rmSync(off, { recursive: true, force: true });
      }
    });
  });
});
