// B6: `loki sandbox start` → running (SandboxService.Start over the admin socket
// returns once the container runs) vs `docker run -d` of the same image with the
// same hardening flags, alternating in the same run. Goal: ratio ≤ 1.0×.
// Run: npx tsx bench/b6-sandbox-start.ts [--n 5]
import { credentials, Metadata } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { installRoot } from '../daemon/src/config.js';
import { SandboxServiceClient, type StartSandboxRequest, type StartSandboxResponse } from '../proto/gen/loki/v1/sandbox.js';
import { SANDBOX_IMAGE, spawnDaemon } from '../test/helpers/daemon.js';
import { shortTempDir } from '../test/helpers/entry.js';

export interface B6Result {
  lokiMs: number[];
  dockerMs: number[];
  lokiMedian: number;
  dockerMedian: number;
  ratio: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function dockerRun(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('docker', args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))),
  );
}

export async function runB6(n: number): Promise<B6Result> {
  const dir = shortTempDir('lk-b6');
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const daemon = await spawnDaemon(join(dir, 'home'), { LOKI_LOG_LEVEL: 'warn' });
  const client = new SandboxServiceClient(`unix:${daemon.paths.adminSocket}`, credentials.createInsecure());
  const seccomp = join(installRoot(), 'deploy', 'seccomp', 'loki-sandbox.json');
  const idle = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];
  const baseline = (ws: string, i: number) => [
    'run', '-d', '--name', `loki-b6-baseline-${process.pid}-${i}`, '--label', 'loki.bench=b6',
    '--user', '1000:1000', '--read-only', '--tmpfs', '/tmp:rw,nosuid,nodev,size=256m', '--tmpfs', '/home/loki:rw,nosuid,nodev,size=256m',
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--security-opt', `seccomp=${seccomp}`,
    '--network', 'none', '--memory', '2g', '--memory-swap', '2g', '--cpus', '2', '--pids-limit', '512', '--ipc', 'private', '--init',
    '--log-opt', 'max-size=10m', '--log-opt', 'max-file=3', '-v', `${ws}:/workspace:rw`, '-w', '/workspace',
    SANDBOX_IMAGE, ...idle,
  ];
  const lokiMs: number[] = [];
  const dockerMs: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      // Alternate so that a burst of load elsewhere on the machine hits both sides.
      const t0 = performance.now();
      const res = await new Promise<StartSandboxResponse>((resolve, reject) =>
        client.start({ name: '', project: 'bench', image: '', command: [], env: {}, limits: undefined, relax: undefined } satisfies StartSandboxRequest, new Metadata(), (err, r) => (err ? reject(err) : resolve(r))),
      );
      lokiMs.push(performance.now() - t0);
      await docker.getContainer(res.sandbox!.containerId).remove({ force: true });

      const ws = join(dir, `ws-${i}`);
      mkdirSync(ws);
      const t1 = performance.now();
      const id = await dockerRun(baseline(ws, i));
      dockerMs.push(performance.now() - t1);
      await docker.getContainer(id).remove({ force: true });
    }
  } finally {
    client.close();
    for (const c of await docker.listContainers({ all: true, filters: { label: ['loki.bench=b6'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const lokiMedian = median(lokiMs);
  const dockerMedian = median(dockerMs);
  return { lokiMs, dockerMs, lokiMedian, dockerMedian, ratio: lokiMedian / dockerMedian };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '5' } } });
  const r = await runB6(Number(values.n));
  const f = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`B6 sandbox start → running, ${values.n} runs each (${SANDBOX_IMAGE})`);
  console.log(`  loki SandboxService.Start : median ${r.lokiMedian.toFixed(0)} ms  [${f(r.lokiMs)}]`);
  console.log(`  docker run -d (same flags): median ${r.dockerMedian.toFixed(0)} ms  [${f(r.dockerMs)}]`);
  console.log(`  ratio loki/docker         : ${r.ratio.toFixed(2)}x (goal <= 1.0x)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
