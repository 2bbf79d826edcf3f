// Before a warm pool claim the runner has nothing to do but wait; its first gRPC
// call after the claim would pay for the first use of grpc-js and http2 in this
// process (lazily compiled code, first http2 session: measured ≈ 25–35 ms of the
// ≈ 40 from a claim to its Hello reaching lokid). So a slot's runner makes one
// call ahead, to an in-process server on a private unix socket under the
// sandbox's own /tmp: the same client path, no session, nothing of the host's.
import { credentials, Metadata, Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentServiceClient, AgentServiceService, type AgentEvent } from '../../proto/gen/loki/v1/agent.js';

const WARM_UP_TIMEOUT_MS = 2000;

/** One Hello and one Decide (carrying an event) through a throwaway in-process server; never throws. */
export async function warmUp(): Promise<void> {
  let dir = '';
  const server = new Server();
  try {
    dir = mkdtempSync(join(tmpdir(), 'loki-warm-'));
    const empty = (_call: unknown, cb: sendUnaryData<object>) => cb(null, {});
    server.addService(AgentServiceService, { hello: empty, decide: empty, report: empty, heartbeat: empty });
    const sock = join(dir, 'w.sock');
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    const client = new AgentServiceClient(`unix:${sock}`, credentials.createInsecure());
    const deadline = Date.now() + WARM_UP_TIMEOUT_MS;
    const event: AgentEvent = { type: 'log', message: '', dataJson: '', iteration: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, taskId: '', taskStatus: 0, legacyTaskStatus: '', agent: '' };
    try {
      await new Promise((r) => client.hello({ runnerVersion: '', pid: 0 }, new Metadata(), { deadline }, r));
      await new Promise((r) => client.decide({ action: { action: { $case: 'shell', shell: 'true' }, tool: '', detail: '' }, events: [event] }, new Metadata(), { deadline }, r));
    } finally {
      client.close();
    }
  } catch {
    // Only a head start: the real calls work the same without it.
  } finally {
    server.forceShutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
