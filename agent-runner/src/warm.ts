// Before a warm pool claim the runner has nothing to do but wait; its first gRPC
// call after the claim would pay for the first use of grpc-js and http2 in this
// process (lazily compiled code, first http2 session: measured ≈ 25–35 ms of the
// ≈ 40 from a claim to its Hello reaching lokid). So a slot's runner makes one
// call ahead, to an in-process server on a private unix socket under the
// sandbox's own /tmp: the same client path, no session, nothing of the host's.
// It also runs the first step's own code once on a fixed input (a YAML plan
// parsed, an event built): a first YAML parse costs a fresh process ≈ 4 ms.
import { credentials, Metadata, Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentDecideResponse, AgentServiceClient, AgentServiceService, SessionBrief, type AgentEvent } from '../../proto/gen/loki/v1/agent.js';
import { fullEvent } from './channel.js';
import { parsePlan } from './providers/script.js';

const WARM_UP_TIMEOUT_MS = 2000;

/**
 * One Hello and one Decide (carrying an event) through a throwaway in-process
 * server, answered with messages shaped like lokid's (a brief with options, a
 * decision), so the client's decoding is warmed as well; true when both calls
 * were answered. Never throws.
 */
export async function warmUp(): Promise<boolean> {
  let dir = '';
  const server = new Server();
  try {
    dir = mkdtempSync(join(tmpdir(), 'loki-warm-'));
    const brief = SessionBrief.fromPartial({ sessionId: 'warm', provider: 1, planJson: '- run: "true"\n', maxIterations: 1, workspace: '/workspace', options: { profile: 'warm' } });
    const decision = AgentDecideResponse.fromPartial({ decision: 1, legacyDecision: 'allow', reason: 'warm', rule: 'warm' });
    const answer = (msg: object) => (_call: unknown, cb: sendUnaryData<object>) => cb(null, msg);
    server.addService(AgentServiceService, { hello: answer(brief), decide: answer(decision), report: answer({ stopRequested: false }), heartbeat: answer({ stopRequested: false }) });
    const sock = join(dir, 'w.sock');
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    const client = new AgentServiceClient(`unix:${sock}`, credentials.createInsecure());
    const deadline = Date.now() + WARM_UP_TIMEOUT_MS;
    parsePlan(brief.planJson);
    const event: AgentEvent = fullEvent({ type: 'iteration', message: 'step 1/1', dataJson: JSON.stringify({ tool: 'run' }) });
    const ok = (err: unknown) => err === null;
    try {
      const hello = await new Promise((r) => client.hello({ runnerVersion: '', pid: 0 }, new Metadata(), { deadline }, (err) => r(ok(err))));
      const decide = await new Promise((r) => client.decide({ action: { action: { $case: 'shell', shell: 'true' }, tool: '', detail: '' }, events: [event], decideSeq: 0 }, new Metadata(), { deadline }, (err) => r(ok(err))));
      return hello === true && decide === true;
    } finally {
      client.close();
    }
  } catch {
    // Only a head start: the real calls work the same without it.
    return false;
  } finally {
    server.forceShutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
