// A compromised gateway flooding lokid's audit log (issue: a gateway can fill the
// audit disk): a raw grpc-js client on gateway.sock — the gateway's own socket and
// identity, no end-user credential — calls AuditService.Record as fast as it can
// with --concurrency calls in flight for --seconds. Prints the entries written and
// refused per second, the audit log's growth in bytes per second, lokid's CPU, and
// what the local admin's own audited call (a token generate over admin.sock) took
// meanwhile (each followed by a revoke). --details N pads each record's details to N bytes (the log keeps up to
// 8 KiB). Extra lokid settings go in as environment, e.g.
//   node dist/bench/audit-record-flood.js --env LOKI_AUDIT_GATEWAY_RECORDS_PER_SECOND=100
// Prints figures; no assertions.
// Run: npm run build && node dist/bench/audit-record-flood.js [--seconds 5] [--concurrency 128] [--details 0]
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditServiceClient } from '../proto/gen/loki/v1/audit.js';
import { TokenServiceClient } from '../proto/gen/loki/v1/tokens.js';
import { generateToken, startStack } from './lib/stack.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '128' },
    details: { type: 'string', default: '0' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const padding = Number(values.details);
const daemonEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

function auditBytes(home: string): number {
  const dir = join(home, 'dashboard', 'audit');
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** lokid's CPU time so far, in seconds (utime + stime from /proc; Linux only). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const stack = await startStack({ daemonEnv });
  const c = new AuditServiceClient(`unix:${stack.gatewaySocket}`, credentials.createInsecure());
  try {
    const detailsJson = padding > 0 ? JSON.stringify({ pad: 'x'.repeat(padding) }) : '';
    const codes = new Map<string, number>();
    const bytes0 = auditBytes(stack.home);
    const cpu0 = cpuSeconds(stack.daemon.pid!);
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let i = 0;
    const one = () =>
      new Promise<void>((resolve) => {
        const md = new Metadata();
        md.set('x-loki-request-id', `flood-${i++}`);
        c.record({ action: 'auth.fail', resource: 'route:GET /api/sessions', detailsJson, result: 'denied', reason: 'unknown' }, md, (err: ServiceError | null) => {
          const code = err ? String(err.metadata?.get('x-loki-error-code')[0] ?? err.code) : 'ok';
          codes.set(code, (codes.get(code) ?? 0) + 1);
          resolve();
        });
      });
    // The local admin's own audited call while the flood runs (each one writes an entry too).
    const tokens = new TokenServiceClient(`unix:${stack.adminSocket}`, credentials.createInsecure());
    const adminMs: number[] = [];
    const adminErrors = new Map<string, number>();
    const admin = (async () => {
      for (let n = 0; performance.now() < end; n++) {
        const a = performance.now();
        try {
          await generateToken(stack.adminSocket, `probe-${n}`, 'viewer');
          adminMs.push(performance.now() - a);
          await new Promise((resolve, reject) => tokens.revoke({ nameOrId: `probe-${n}` }, new Metadata(), (err) => (err ? reject(err) : resolve(undefined))));
        } catch (err) {
          const m = (err as Error).message;
          adminErrors.set(m, (adminErrors.get(m) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await one();
    }));
    await admin;
    tokens.close();
    const elapsed = (performance.now() - t0) / 1000;
    const grew = auditBytes(stack.home) - bytes0;
    const cpu = cpuSeconds(stack.daemon.pid!) - cpu0;
    const ok = codes.get('ok') ?? 0;
    const refused = [...codes].filter(([k]) => k !== 'ok');
    adminMs.sort((a, b) => a - b);
    process.stdout.write(`Compromised gateway: AuditService.Record on gateway.sock, ${concurrency} in flight, ${elapsed.toFixed(1)} s, details ${padding} B\n`);
    process.stdout.write(`written:  ${ok} (${(ok / elapsed).toFixed(0)}/s)\n`);
    process.stdout.write(`refused:  ${refused.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}\n`);
    process.stdout.write(`audit log grew ${(grew / 1024).toFixed(0)} KiB (${(grew / 1024 / elapsed).toFixed(0)} KiB/s, ${ok ? (grew / ok).toFixed(0) : '-'} B per entry)\n`);
    process.stdout.write(`lokid CPU: ${((cpu / elapsed) * 100).toFixed(0)}% of one core\n`);
    process.stdout.write(`admin's token generate meanwhile: ${adminMs.length} calls, median ${adminMs[Math.floor(adminMs.length / 2)]?.toFixed(0)} ms, max ${adminMs.at(-1)?.toFixed(0)} ms${adminErrors.size ? `; failed: ${[...adminErrors].map(([m, k]) => `${k}× ${m}`).join('; ')}` : ''}\n`);
  } finally {
    c.close();
    await stack.stop();
  }
}

void main();
