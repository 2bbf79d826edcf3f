// The wire vocabulary on the client's side: answers from a current, an older and
// a newer daemon all become the domain's lower-case words, and what cannot is a
// clear error naming the field.
import assert from 'node:assert/strict';
import { ApprovalStatus, PolicyDecision, type Approval } from '../../../proto/gen/loki/v1/policy.js';
import { Session as PbSession, SessionState } from '../../../proto/gen/loki/v1/sessions.js';
import { AutonomyMode, Provider } from '../../../proto/gen/loki/v1/vocab.js';
import { decisionName, toApproval, toSession, toStatus } from '../../../client/src/grpc/convert.js';
import { approvalStatusCodec, enumForRequest, enumFromAnswer, providerCodec, sessionStateCodec } from '../../../client/src/grpc/vocab.js';
import { GetStatusResponse } from '../../../proto/gen/loki/v1/system.js';

const session = (over: Partial<PbSession>) => PbSession.fromPartial({ id: 'ses-000000000001', ...over });

describe('client wire vocabulary', function () {
  it('reads the enums of a current daemon', () => {
    const s = toSession(session({ state: SessionState.SESSION_STATE_WAITING_APPROVAL, provider: Provider.PROVIDER_CLAUDE, autonomy: AutonomyMode.AUTONOMY_MODE_SUPERVISED }));
    assert.deepEqual([s.state, s.provider, s.autonomy], ['waiting_approval', 'claude', 'supervised']);
  });

  it('reads the strings of a daemon older than the enums', () => {
    const s = toSession(session({ legacyState: 'paused', legacyProvider: 'script', legacyAutonomy: '' }));
    assert.deepEqual([s.state, s.provider, s.autonomy], ['paused', 'script', null]);
    const a = toApproval({ ...({} as Approval), id: 'apr-1', legacyStatus: 'expired', approvers: [] });
    assert.equal(a.status, 'expired');
  });

  it('shows a newer daemon\'s value it does not know by the name sent beside it', () => {
    const s = toSession(session({ state: 42 as SessionState, legacyState: 'hibernating', provider: Provider.PROVIDER_SCRIPT }));
    assert.equal(s.state, 'hibernating');
  });

  it('fails clearly, naming the field, when a required value has no name it can show', () => {
    assert.throws(() => toSession(session({ state: 42 as SessionState, provider: Provider.PROVIDER_SCRIPT })), { code: 'internal', message: /session state 42/ });
    assert.throws(() => toSession(session({ provider: Provider.PROVIDER_SCRIPT })), { code: 'internal', message: 'the daemon sent no session state' });
    assert.throws(() => toApproval({ ...({} as Approval), id: 'apr-1', status: 9 as ApprovalStatus, approvers: [] }), { code: 'internal', message: /approval status 9/ });
    assert.equal(enumFromAnswer(approvalStatusCodec, 'approval status', ApprovalStatus.APPROVAL_STATUS_REJECTED, ''), 'rejected');
  });

  it('maps a decision it does not know to unknown (never an allow)', () => {
    assert.equal(decisionName(PolicyDecision.POLICY_DECISION_ALLOW), 'allow');
    assert.equal(decisionName(7 as PolicyDecision), 'unknown');
    assert.equal(decisionName(PolicyDecision.POLICY_DECISION_UNSPECIFIED), 'unknown');
  });

  it('sends the enum and the older string, and refuses an unknown word before sending', () => {
    assert.deepEqual(enumForRequest(providerCodec, 'provider', 'openai'), { wire: Provider.PROVIDER_OPENAI, legacy: 'openai' });
    assert.deepEqual(enumForRequest(providerCodec, 'provider', undefined), { wire: Provider.PROVIDER_UNSPECIFIED, legacy: '' });
    assert.throws(() => enumForRequest(providerCodec, 'provider', 'gpt'), { code: 'invalid_argument', message: 'unknown provider "gpt" (known: script, openai, claude)' });
    assert.equal(sessionStateCodec.toWire('stopped'), SessionState.SESSION_STATE_STOPPED);
  });

  it('shows the driver-neutral status and fills the older docker spelling from it, never from the docker_* fields', () => {
    const st = toStatus(GetStatusResponse.fromPartial({ sandboxDriver: 'docker', sandboxDriverReachable: true, sandboxDriverVersion: '27.3.1', sandboxDriverCanPause: true, dockerReachable: false, dockerVersion: 'stale' }));
    assert.deepEqual(st.daemon.sandbox_driver, { name: 'docker', reachable: true, version: '27.3.1', can_pause: true });
    assert.deepEqual(st.daemon.docker, { reachable: true, version: '27.3.1' });
  });
});
