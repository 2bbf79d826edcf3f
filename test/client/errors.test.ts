import assert from 'node:assert/strict';
import { LokiError } from '../../common/src/index.js';
import { decodeGrpcError, decodeHttpError, exitCodeFor } from '../../client/src/index.js';

const md = (code?: string) => ({ get: (k: string) => (k === 'x-loki-error-code' && code ? [code] : []) });

describe('the one Loki error decoder', () => {
  it('gives back the code the daemon put in the gRPC trailer, with its exit code', () => {
    const e = decodeGrpcError({ code: 5, details: 'no session ses-1', metadata: md('session_not_found') }, { audience: 'operator', target: '/x.sock', tcp: false });
    assert.deepEqual([e.code, e.kind, e.message, exitCodeFor(e)], ['session_not_found', 'not_found', 'no session ses-1', 5]);
  });

  it('tells the operator where it looked and how to start lokid, and a remote caller only that the daemon is down', () => {
    const op = decodeGrpcError({ code: 14 }, { audience: 'operator', target: '/run/loki/admin.sock', tcp: false, socketExists: false });
    assert.equal(op.code, 'daemon_unavailable');
    assert.match(op.message, /no socket at \/run\/loki\/admin\.sock.*loki up/);
    // A socket that is there: a lokid that died and left it, or one that is hung; "not running" would send
    // the operator to start a second one beside a hung one (which refuses to start).
    const hung = decodeGrpcError({ code: 4 }, { audience: 'operator', target: '/run/loki/admin.sock', tcp: false, socketExists: true });
    assert.equal(hung.message, 'lokid is not answering (nothing answers on /run/loki/admin.sock): if it is not running, start it with `loki up` (or `systemctl start lokid`); if it is, it is hung (docs/RUNBOOK.md, "lokid hangs").');
    const remote = decodeGrpcError({ code: 14 }, { audience: 'remote', target: '/run/loki/gateway.sock', tcp: false, socketExists: true });
    assert.equal(remote.message, 'the Loki daemon is not answering');
    assert.doesNotMatch(remote.message, /sock/);
  });

  it('reports a refused gateway certificate as gateway_not_allowed, not as the user\'s permission', () => {
    const e = decodeGrpcError({ code: 7, metadata: md('permission_denied') }, { audience: 'remote', target: 'h:1', tcp: true, ownCall: true });
    assert.equal(e.code, 'gateway_not_allowed');
  });

  it('never turns an unknown gRPC failure into a message with internals', () => {
    const e = decodeGrpcError({ code: 13, details: 'stack at /secret/path.ts:12' }, { audience: 'remote', target: 's', tcp: false });
    assert.deepEqual([e.code, e.message], ['internal', 'daemon call failed']);
  });

  it('decodes the gateway error body, Fastify\'s own errors and bodiless statuses', () => {
    const a = decodeHttpError(409, { error: { code: 'approval_decided', message: 'already decided', request_id: 'r1' } });
    assert.deepEqual([a.code, a.message, exitCodeFor(a)], ['approval_decided', 'already decided', 6]);
    const b = decodeHttpError(404, { statusCode: 404, error: 'Not Found', message: 'Route GET:/x not found' });
    assert.deepEqual([b.kind, b.message], ['not_found', 'Route GET:/x not found']);
    const c = decodeHttpError(502, undefined, '/api/sessions');
    assert.deepEqual([c.kind, exitCodeFor(c)], ['unavailable', 8]);
    const d = decodeHttpError(401, { error: { code: 'made_up_code', message: 'who are you' } });
    assert.deepEqual([d.code, d.message], ['unauthenticated', 'who are you']);
  });

  it('passes a LokiError through untouched', () => {
    const e = new LokiError('conflict', 'x');
    assert.equal(decodeGrpcError(e, { audience: 'operator', target: '', tcp: false }), e);
    assert.equal(exitCodeFor(new Error('boom')), 1);
  });
});
