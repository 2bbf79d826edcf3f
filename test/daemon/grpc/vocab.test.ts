// The wire vocabulary on the daemon's side: every proto enum matches its list in
// common/src/vocab.ts value for value, and a real lokid takes the string form an
// older client sends in a field's old number, refusing unknown values by name.
import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { ApprovalStatus, PolicyDecision, PolicyServiceClient } from '../../../proto/gen/loki/v1/policy.js';
import { SandboxState } from '../../../proto/gen/loki/v1/sandbox.js';
import { SessionServiceClient, SessionState, StartSessionRequest } from '../../../proto/gen/loki/v1/sessions.js';
import { AutonomyMode, Provider, TaskStatus } from '../../../proto/gen/loki/v1/vocab.js';
import { taskStatusCodec } from '../../../common/src/wire-vocab.js';
import { approvalStatusCodec, autonomyCodec, decisionCodec, enumFromRequest, enumToWire, providerCodec, sandboxStateCodec, sessionStateCodec } from '../../../daemon/src/grpc/vocab.js';
import { toStartInput } from '../../../daemon/src/sessions/grpc.js';
import type { EnumCodec } from '../../../common/src/index.js';
import { clientFor, errorCode, startTestDaemon, unaryCall } from '../../helpers/daemon.js';

/** The generated enum's values by name, without UNSPECIFIED and ts-proto's UNRECOGNIZED. */
function members(e: Record<string, string | number>, prefix: string): [string, number][] {
  return Object.entries(e)
    .filter((kv): kv is [string, number] => typeof kv[1] === 'number' && kv[1] > 0)
    .map(([k, v]) => [k.slice(prefix.length).toLowerCase(), v]);
}

const ENUMS: [string, EnumCodec<string, number>, Record<string, string | number>, string][] = [
  ['SessionState', sessionStateCodec, SessionState, 'SESSION_STATE_'],
  ['Provider', providerCodec, Provider, 'PROVIDER_'],
  ['AutonomyMode', autonomyCodec, AutonomyMode, 'AUTONOMY_MODE_'],
  ['PolicyDecision', decisionCodec, PolicyDecision, 'POLICY_DECISION_'],
  ['ApprovalStatus', approvalStatusCodec, ApprovalStatus, 'APPROVAL_STATUS_'],
  ['SandboxState', sandboxStateCodec, SandboxState, 'SANDBOX_STATE_'],
  ['TaskStatus', taskStatusCodec, TaskStatus, 'TASK_STATUS_'],
];

describe('daemon wire vocabulary', function () {
  for (const [name, codec, e, prefix] of ENUMS) {
    it(`maps every ${name} value to the same word in common/src/vocab.ts and back`, () => {
      const m = members(e, prefix);
      assert.deepEqual(m.map(([word]) => word), [...codec.values], `${name} and its list name the same values in the same order`);
      for (const [word, n] of m) {
        assert.equal(codec.fromWire(n), word);
        assert.equal(codec.toWire(word), n);
      }
      assert.equal(codec.toWire(''), 0);
      assert.equal(codec.fromWire(0), undefined);
      assert.equal(codec.fromWire(m.length + 1), undefined);
    });
  }

  it('reads a request enum, else the older string, else "not given", and names the field of an unknown value', () => {
    assert.equal(enumFromRequest(providerCodec, 'provider', Provider.PROVIDER_OPENAI, ''), 'openai');
    assert.equal(enumFromRequest(providerCodec, 'provider', Provider.PROVIDER_OPENAI, 'claude'), 'openai', 'the enum wins over the legacy string');
    assert.equal(enumFromRequest(providerCodec, 'provider', 0, 'claude'), 'claude');
    assert.equal(enumFromRequest(providerCodec, 'provider', 0, ''), '');
    assert.throws(() => enumFromRequest(providerCodec, 'provider', 7, ''), { code: 'invalid_argument', message: 'unknown provider 7 (known: script, openai, claude)' });
    assert.throws(() => enumFromRequest(autonomyCodec, 'autonomy mode', 0, 'yolo'), { code: 'invalid_argument', message: 'unknown autonomy mode "yolo" (known: perpetual, checkpoint, supervised)' });
    assert.equal(enumToWire(autonomyCodec, ''), AutonomyMode.AUTONOMY_MODE_UNSPECIFIED);
    assert.equal(enumToWire(autonomyCodec, 'supervised'), AutonomyMode.AUTONOMY_MODE_SUPERVISED);
  });

  it('turns an older client\'s start request (strings in fields 3 and 6) into the same input as the enum form', () => {
    const old = toStartInput(StartSessionRequest.fromPartial({ prompt: 'x', legacyProvider: 'openai', legacyAutonomy: 'checkpoint' }));
    const current = toStartInput(StartSessionRequest.fromPartial({ prompt: 'x', provider: Provider.PROVIDER_OPENAI, autonomy: AutonomyMode.AUTONOMY_MODE_CHECKPOINT }));
    assert.deepEqual(old, current);
    assert.equal(old.provider, 'openai');
    assert.equal(old.autonomy, 'checkpoint');
  });

  describe('on a real lokid', function () {
    this.timeout(60_000);
    let d: Awaited<ReturnType<typeof startTestDaemon>>;
    before(async () => {
      d = await startTestDaemon();
    });
    after(async () => {
      await d?.cleanup();
    });

    it('refuses an unknown provider or autonomy string from an older client with INVALID_ARGUMENT naming it', async () => {
      const c = clientFor(SessionServiceClient, d.paths.adminSocket);
      try {
        for (const [req, msg] of [
          [{ prompt: 'x', legacyProvider: 'gpt' }, /unknown provider "gpt" \(known: script, openai, claude\)/],
          [{ prompt: 'x', legacyAutonomy: 'yolo' }, /unknown autonomy mode "yolo"/],
          [{ prompt: 'x', provider: 42 as Provider }, /unknown provider 42/],
        ] as const) {
          await assert.rejects(unaryCall(c.start.bind(c), StartSessionRequest.fromPartial(req), new Metadata()), (e: Error & { code?: number; details?: string }) => {
            assert.equal(e.code, status.INVALID_ARGUMENT, e.details);
            assert.equal(errorCode(e), 'invalid_argument');
            assert.match(e.details ?? '', msg);
            return true;
          });
        }
      } finally {
        c.close();
      }
    });

    it('answers ShowPolicy with the enum and, for older clients, the same word in the old field', async () => {
      const c = clientFor(PolicyServiceClient, d.paths.adminSocket);
      try {
        const r = await unaryCall(c.showPolicy.bind(c), { profile: '' });
        assert.equal(autonomyCodec.fromWire(r.mode), r.legacyMode);
        assert.ok(r.profiles.length > 0);
        for (const p of r.profiles) {
          assert.equal(decisionCodec.fromWire(p.defaultDecision), p.legacyDefaultDecision, p.name);
          assert.equal(autonomyCodec.fromWire(p.mode), p.legacyMode, p.name);
        }
      } finally {
        c.close();
      }
    });
  });
});
