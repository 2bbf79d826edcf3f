// Shared bits for the tests that drive sandboxes through a real daemon: a default Start request, an Exec helper
// over the real bidi stream, and cleanup of every container a test daemon made.
import { Metadata } from '@grpc/grpc-js';
import Docker from 'dockerode';
import { instanceId } from '../../daemon/src/daemon.js';
import type { ExecResponse, SandboxServiceClient, StartSandboxRequest } from '../../proto/gen/loki/v1/sandbox.js';
import { SANDBOX_IMAGE } from './daemon.js';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

export const START: StartSandboxRequest = { name: '', project: '', image: '', command: [], env: {}, limits: undefined, relax: undefined };

export type SandboxClient = InstanceType<typeof SandboxServiceClient>;

export async function requireImage(): Promise<void> {
  if (!(await docker.getImage(SANDBOX_IMAGE).inspect().catch(() => undefined))) {
    throw new Error(`the sandbox image ${SANDBOX_IMAGE} is missing; build it first with \`loki sandbox build\` (.ci/run does)`);
  }
}

/** Containers (running or not) that belong to the daemon whose LOKI_HOME is `home`. */
export async function instanceContainers(home: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`loki.instance=${instanceId(home)}`] } });
}

/** Removes every container of the daemon on `home` (call before the home dir is deleted). */
export async function removeInstanceContainers(home: string): Promise<void> {
  const list = await instanceContainers(home).catch(() => []);
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

/** Runs argv in the sandbox over the Exec stream; returns stdout, stderr and the exit code. */
export function execIn(client: SandboxClient, id: string, argv: string[], md: Metadata = new Metadata(), stdin?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const call = client.exec(md);
    let stdout = '';
    let stderr = '';
    let code: number | undefined;
    call.on('data', (m: ExecResponse) => {
      if (m.msg?.$case === 'stdout') stdout += m.msg.stdout.toString();
      if (m.msg?.$case === 'stderr') stderr += m.msg.stderr.toString();
      if (m.msg?.$case === 'exitCode') code = m.msg.exitCode;
    });
    call.on('error', reject);
    call.on('end', () => (code === undefined ? reject(new Error('no exit code')) : resolve({ stdout, stderr, code })));
    call.write({ msg: { $case: 'start', start: { id, argv, tty: false, cols: 0, rows: 0, env: {}, workdir: '' } } });
    if (stdin !== undefined) call.write({ msg: { $case: 'stdin', stdin: Buffer.from(stdin) } });
    call.write({ msg: { $case: 'closeStdin', closeStdin: true } });
  });
}
