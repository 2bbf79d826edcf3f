// B6 (gVisor): sandbox start → ready under runsc vs runc, alternating in the same
// run, one real lokid per runtime. "Ready" = SandboxService.Start has returned
// (the container runs, every control verified) AND a first exec (`true`) inside
// it has exited 0. Prints medians and the ratio; no assertions.
// Needs runsc registered (scripts/register-runsc.sh). Run: npx tsx bench/b6-runsc.ts [--n 5]
import { credentials, Metadata } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { SandboxServiceClient, type ExecResponse, type StartSandboxResponse } from '../proto/gen/loki/v1/sandbox.js';
import { spawnDaemon, type DaemonProcess } from '../test/helpers/daemon.js';
import { shortTempDir } from '../test/helpers/entry.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function execTrue(c: SandboxServiceClient, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const call = c.exec(new Metadata());
    let code: number | undefined;
    call.on('data', (m: ExecResponse) => {
      if (m.msg?.$case === 'exitCode') code = m.msg.exitCode;
    });
    call.on('error', reject);
    call.on('end', () => (code === undefined ? reject(new Error('no exit code')) : resolve(code)));
    call.write({ msg: { $case: 'start', start: { id, argv: ['true'], tty: false, cols: 0, rows: 0, env: {}, workdir: '' } } });
    call.write({ msg: { $case: 'closeStdin', closeStdin: true } });
  });
}

async function startToReady(c: SandboxServiceClient, docker: Docker): Promise<number> {
  const t0 = performance.now();
  const res = await new Promise<StartSandboxResponse>((resolve, reject) =>
    c.start({ name: '', project: 'bench', image: '', command: [], env: {}, limits: undefined, relax: undefined }, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
  );
  const code = await execTrue(c, res.sandbox!.id);
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`first exec exited ${code}`);
  await docker.getContainer(res.sandbox!.containerId).remove({ force: true });
  return ms;
}

export async function runB6Runsc(n: number): Promise<{ runc: number[]; runsc: number[]; ratio: number }> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const runtimes = Object.keys(((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
  if (!runtimes.includes('runsc')) throw new Error('dockerd has no runsc runtime: run scripts/register-runsc.sh');
  const dir = shortTempDir('lk-b6g');
  const daemons: DaemonProcess[] = [];
  const clients: SandboxServiceClient[] = [];
  const out = { runc: [] as number[], runsc: [] as number[] };
  try {
    for (const rt of ['runc', 'runsc'] as const) {
      const d = await spawnDaemon(join(dir, rt), { LOKI_LOG_LEVEL: 'warn', LOKI_SANDBOX_RUNTIME: rt });
      daemons.push(d);
      clients.push(new SandboxServiceClient(`unix:${d.paths.adminSocket}`, credentials.createInsecure()));
    }
    // Alternate so that load elsewhere on the machine hits both runtimes alike.
    for (let i = 0; i < n; i++) {
      out.runc.push(await startToReady(clients[0]!, docker));
      out.runsc.push(await startToReady(clients[1]!, docker));
    }
  } finally {
    for (const c of clients) c.close();
    for (const d of daemons) await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { ...out, ratio: median(out.runsc) / median(out.runc) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '5' } } });
  const r = await runB6Runsc(Number(values.n));
  const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`B6 sandbox start → ready (Start + first exec), ${values.n} runs each, alternating`);
  console.log(`  runc  : median ${median(r.runc).toFixed(0)} ms  [${f(r.runc)}]`);
  console.log(`  runsc : median ${median(r.runsc).toFixed(0)} ms  [${f(r.runsc)}]`);
  console.log(`  ratio runsc/runc: ${r.ratio.toFixed(2)}x`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
