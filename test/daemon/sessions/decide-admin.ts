// The human's side of the numbered-Decide tests (restart-decide, decide-hello): the admin
// socket's clients of a fixture lokid, and what the tests wait for and read back.
import { Metadata } from '@grpc/grpc-js';
import { runtimePaths } from '../../../common/src/index.js';
import { PolicyServiceClient, type DecideApprovalRequest, type DecideApprovalResponse, type ListApprovalsRequest, type ListApprovalsResponse } from '../../../proto/gen/loki/v1/policy.js';
import { SessionServiceClient, StartSessionRequest, type Session, type SessionEvent, type SessionRef } from '../../../proto/gen/loki/v1/sessions.js';
import { AutonomyMode, Provider } from '../../../proto/gen/loki/v1/vocab.js';
import { clientFor, collectStream, unaryCall } from '../../helpers/daemon.js';
import { until } from './helpers.js';

export const LS = { $case: 'shell' as const, shell: 'ls -l' };
/** The default profile asks a human before a force-push. */
export const PUSH = { $case: 'shell' as const, shell: 'git push -f' };

/** The admin-side clients of the fixture lokid on `home` (made again after each restart). */
export function admin(home: string) {
  const socket = runtimePaths(home).adminSocket;
  const sessions = clientFor(SessionServiceClient, socket);
  const policy = clientFor(PolicyServiceClient, socket);
  return {
    // Supervised unless told: every action asks a human.
    start: (repo: string, autonomy = AutonomyMode.AUTONOMY_MODE_SUPERVISED) => unaryCall<StartSessionRequest, Session>(sessions.start.bind(sessions), StartSessionRequest.fromPartial({ prompt: 'build', provider: Provider.PROVIDER_SCRIPT, plan: '[{"run":"true"}]', projectPath: repo, autonomy })),
    get: (id: string) => unaryCall<SessionRef, Session>(sessions.get.bind(sessions), { id }),
    approvals: (sessionId: string) => unaryCall<ListApprovalsRequest, ListApprovalsResponse>(policy.listApprovals.bind(policy), { sessionId, legacyStatus: '', status: 0 }).then((r) => r.approvals),
    decide: (id: string, approve: boolean, comment = '') => unaryCall<DecideApprovalRequest, DecideApprovalResponse>(policy.decideApproval.bind(policy), { id, approve, comment }),
    events: (sessionId: string) => collectStream<SessionEvent>(sessions.events({ sessionId, afterSeq: 0, afterGid: 0, follow: false }, new Metadata())),
    close() {
      sessions.close();
      policy.close();
    },
  };
}

export type Admin = ReturnType<typeof admin>;

/** The first approval of the session, once the runner's Decide has asked for it. */
export async function asked(a: Admin, sessionId: string) {
  const [pending] = await until('the approval to be asked', async () => {
    const list = await a.approvals(sessionId);
    return list.length === 1 && list[0]!.legacyStatus === 'pending' && list;
  });
  return pending!;
}

/**
 * The runner's Decide sent again: its answer, or 'asked again' when lokid raised a second
 * approval instead (what it did before Decides were numbered; the call would then wait for a human).
 */
export async function resent<T>(decide: Promise<T>, a: Admin, sessionId: string, known = 1): Promise<T | 'asked again'> {
  let answered = false;
  const settled = decide.finally(() => (answered = true));
  const second = until('an answer or another approval', async () => answered || (await a.approvals(sessionId)).length > known, 20_000);
  return Promise.race([settled, second.then<T | 'asked again'>(() => (answered ? settled : 'asked again'))]);
}

/** The session's approvals once there are `n` of them. */
export function approvalsOnce(a: Admin, sessionId: string, n: number) {
  return until(`approval ${n} to be asked`, async () => {
    const list = await a.approvals(sessionId);
    return list.length === n && list;
  });
}
