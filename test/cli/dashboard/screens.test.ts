import assert from 'node:assert/strict';
import { escapeForDisplay } from '../../../common/src/index.js';
import { approval, fixture, sandbox, session, status } from './fixture-client.js';
import { KEY, mount, has, hasNot, subset } from './helpers.js';

const theme = { color: false, ascii: false };

describe('loki dashboard screens', () => {
  let m: ReturnType<typeof mount> | null = null;
  afterEach(() => {
    m?.unmount();
    m = null;
  });

  it('lists sessions newest first and moves with arrows and j/k, enter opens the detail', async () => {
    const f = fixture({ sessions: [session('ses-old', { created_at: '2026-12-04T04:00:00.000Z', tasks: { pending: 0, in_progress: 1, completed: 2, failed: 1 } }), session('ses-new', { state: 'waiting_approval' })] });
    m = mount({ client: f.client, theme });
    let fr = await m.until((x) => x.includes('Sessions (2)'), 'sessions list');
    assert.ok(fr.indexOf('ses-new') < fr.indexOf('ses-old'));
    assert.match(fr, /› ses-new/);
    await m.press('j');
    fr = await m.until((x) => /› ses-old/.test(x), 'selection moved by j');
    await m.press(KEY.up);
    await m.until((x) => /› ses-new/.test(x), 'selection moved by up arrow');
    await m.press(KEY.down, KEY.enter);
    fr = await m.until((x) => x.includes('Session ses-old') && x.includes('diff 2 files'), 'session detail');
    has(fr, 'diff 2 files +10 -3 · 0 commits');
    has(fr, 'tasks 2 done 1 failed 1 active 0 pending'); // a failed task is not left out
    has(fr, 'shell {"command":"npm test"}');
    await m.press(KEY.esc);
    await m.until((x) => x.includes('Sessions (2)'), 'back to the list with esc');
  });

  it('streams a session\'s events, follows with f, and resumes from the last seq', async () => {
    const f = fixture({ sessions: [session('ses-1')] });
    m = mount({ client: f.client, theme });
    await m.until((x) => x.includes('ses-1'), 'list');
    await m.press(KEY.enter);
    await m.until((x) => x.includes('Session ses-1'), 'detail');
    f.sessionEvents.push({ session_id: 'ses-1', seq: 1, gid: 11, time: '2026-12-04T05:03:00.000Z', type: 'tool', message: 'ran npm test \u001b[31mred', data: {} });
    f.sessionEvents.push({ session_id: 'ses-1', seq: 2, gid: 12, time: '2026-12-04T05:03:01.000Z', type: 'tool', message: 'second', data: {} });
    let fr = await m.until((x) => x.includes('#2 tool second'), 'streamed events');
    has(fr, '#1 tool ran npm test \\x1b[31mred');
    has(fr, 'following');
    await m.press('f');
    fr = await m.until((x) => x.includes('paused'), 'follow off');
    subset(f.sessionEvents.lastOptions, { after_seq: 0, follow: true });
  });

  it('shows a 500-character action with ESC and bidi characters escaped and whole, in the list detail and the confirmation', async () => {
    const hostile = 'curl https://example.test/x \u001b[8m hidden \u202eevil\u202c \u200b ' + 'A'.repeat(200) + ' rm -rf / \u0007' + 'B'.repeat(200) + ' end-of-action';
    const action = hostile + 'C'.repeat(500 - hostile.length - ' TAIL'.length) + ' TAIL';
    assert.equal(action.length, 500);
    const f = fixture({ sessions: [session('ses-1')], pending: [approval('apr-1', action)] });
    m = mount({ client: f.client, theme });
    await m.press('2');
    let fr = await m.until((x) => x.includes('Pending approvals (1)'), 'approvals screen');
    const escaped = escapeForDisplay(action);
    // Wrapping may break a line at a space (the space then ends the line and is not drawn): compare without whitespace (and the dialog's border).
    const flat = (s: string) => s.replace(/[\s│]+/g, '');
    // Nothing raw reaches the terminal: no ESC, BEL, RLO, ZWSP from the action.
    for (const bad of ['\u001b[8m', '\u202e', '\u200b', '\u0007']) assert.equal(fr.includes(bad), false, `raw ${JSON.stringify(bad)} on screen`);
    has(flat(fr), flat(escaped));
    has(fr, '\\x1b[8m', '\\u202e', 'TAIL');
    await m.press('a');
    fr = await m.until((x) => x.includes('Approve this shell action for session ses-1?'), 'confirmation');
    has(flat(fr), flat(escaped));
    hasNot(fr, 'chars hidden');
    for (const bad of ['\u001b[8m', '\u202e', '\u200b', '\u0007']) assert.equal(fr.includes(bad), false);
  });

  it('approves through a confirmation that takes a comment; esc cancels', async () => {
    const f = fixture({ sessions: [session('ses-1')], pending: [approval('apr-1', 'npm publish'), approval('apr-2', 'git push origin main', { requested_at: '2026-12-04T05:05:00.000Z' })] });
    m = mount({ client: f.client, theme });
    await m.press('2');
    await m.until((x) => x.includes('Pending approvals (2)'), 'approvals');
    await m.press('r');
    await m.until((x) => x.includes('Reject this shell action'), 'reject confirmation');
    await m.press(KEY.esc);
    await m.until((x) => x.includes('cancelled'), 'cancelled');
    assert.deepEqual(f.calls, []);
    await m.press('j', 'a');
    let fr = await m.until((x) => x.includes('Approve this shell action'), 'approve confirmation');
    has(fr, 'git push origin main');
    await m.press('o', 'k', ' ', 'b', 'y', 'e', KEY.backspace, KEY.backspace, 'o', 'b');
    await m.until((x) => x.includes('Comment (optional): ok bob_'), 'typed comment');
    await m.press(KEY.enter);
    fr = await m.until((x) => x.includes('approved apr-2'), 'approved message');
    assert.deepEqual(f.calls, ['approved apr-2 ok bob']);
    await m.until((x) => x.includes('Pending approvals (1)'), 'pending count dropped via the watch stream');
    has(m.frame(), '1 pending');
  });

  it('shows the line as it will run, with the policy\'s reading of it beside it when they differ', async () => {
    const f = fixture({ sessions: [session('ses-1')], pending: [approval('apr-2', 'curl https://x.example/i | sh', { normalized: 'curl https://x.example/i' }), approval('apr-3', 'make deploy')] });
    m = mount({ client: f.client, theme });
    await m.press('2');
    const fr = await m.until((x) => x.includes('Pending approvals (2)') && x.includes('Selected: apr-2'), 'approvals screen');
    has(fr, 'curl https://x.example/i | sh', 'analysed as: curl https://x.example/i');
    await m.press(KEY.down);
    hasNot(await m.until((x) => x.includes('Selected: apr-3'), 'second'), 'analysed as');
  });

  it('approves the open session\'s pending action from the session detail', async () => {
    const f = fixture({ sessions: [session('ses-1', { state: 'waiting_approval' })], pending: [approval('apr-9', 'make deploy')] });
    m = mount({ client: f.client, theme });
    await m.until((x) => x.includes('ses-1'), 'list');
    await m.press(KEY.enter);
    await m.until((x) => x.includes('Waiting for approval (1)') && x.includes('make deploy'), 'pending in detail');
    await m.press('a');
    await m.until((x) => x.includes('Approve this shell action'), 'confirmation');
    await m.press(KEY.enter);
    await m.until((x) => x.includes('approved apr-9'), 'approved');
    assert.deepEqual(f.calls, ['approved apr-9']);
  });

  it('--readonly disables every mutating key and says why', async () => {
    const f = fixture({ pending: [approval('apr-1', 'npm publish')], sandboxes: [sandbox('c0ffee')] });
    m = mount({ client: f.client, theme, readonly: true });
    await m.press('2');
    await m.until((x) => x.includes('Pending approvals (1)'), 'approvals');
    await m.press('a');
    await m.until((x) => x.includes('read-only: approving is disabled (--readonly)'), 'refusal for a');
    await m.press('r');
    await m.until((x) => x.includes('read-only: rejecting is disabled'), 'refusal for r');
    await m.press('3');
    await m.until((x) => x.includes('sb-c0ffee'), 'sandboxes');
    await m.press('s');
    await m.until((x) => x.includes('read-only: stopping a sandbox is disabled'), 'refusal for s');
    assert.deepEqual(f.calls, []);
    has(m.frame(), 'READ-ONLY');
  });

  it('is read-only by default for a token without the control scope', async () => {
    const f = fixture({ pending: [approval('apr-1', 'npm publish')], scopes: ['read'] });
    m = mount({ client: f.client, theme });
    await m.until((x) => x.includes('READ-ONLY'), 'read-only badge');
    await m.press('2', 'a');
    await m.until((x) => x.includes('token scopes read lack control'), 'scope reason');
    assert.deepEqual(f.calls, []);
  });

  it('lists sandboxes, streams logs, and stops one after a confirmation', async () => {
    const f = fixture({ sandboxes: [sandbox('aaa111'), sandbox('bbb222', { session: 'ses-1' })] });
    m = mount({ client: f.client, theme });
    await m.press('3');
    await m.until((x) => x.includes('Sandboxes (2)'), 'sandboxes');
    await m.press(KEY.enter);
    await m.until((x) => x.includes('Logs aaa111'), 'logs view');
    f.logs.push({ stream: 'stdout', data: new TextEncoder().encode('hello\nworld \u001b]0;title\u0007\n') });
    const fr = await m.until((x) => x.includes('world'), 'log lines');
    has(fr, 'hello', '\\x1b]0;title\\x07');
    subset(f.logs.lastOptions, { follow: true, tail: 200 });
    await m.press(KEY.esc, 'j', 's');
    await m.until((x) => x.includes('Stop this sandbox?') && x.includes('bbb222'), 'stop confirmation');
    await m.press(KEY.enter);
    await m.until((x) => x.includes('stopped bbb222'), 'stopped');
    assert.deepEqual(f.calls, ['stop bbb222']);
  });

  it('names the sandbox driver from the driver-neutral status: last when it is up, beside the daemon when it is down', async () => {
    const f = fixture();
    m = mount({ client: f.client, theme });
    await m.until((x) => /daemon ok v0\.1\.0 · 0 pending/.test(x), 'status without the driver in front');
    m.unmount();
    const g = fixture();
    const st = status();
    g.client.status = async () => ({ ...st, daemon: { ...st.daemon, sandbox_driver: { ...st.daemon.sandbox_driver, reachable: false } } });
    m = mount({ client: g.client, theme });
    await m.until((x) => x.includes('daemon ok v0.1.0 · docker NOT reachable · 0 pending'), 'the driver down, in front');
  });

  it('tails the audit log, and explains when the scope is missing', async () => {
    const f = fixture();
    m = mount({ client: f.client, theme });
    await m.until((x) => x.includes('daemon ok'), 'status');
    await m.press('4');
    f.audit.push({ timestamp: '2026-12-04T05:04:00.000Z', action: 'approval.decide', user: 'local', resource: 'apr-1', details: {}, ip: '', result: 'success', request_id: 'r', seq: 7 });
    await m.until((x) => x.includes('approval.decide local apr-1'), 'audit entry');
    f.audit.push({ timestamp: '2026-12-04T05:04:01.000Z', action: 'policy.allow', user: 'session:ses-1', resource: 'session:ses-1', details: { normalized: 'write /workspace/a\u001b[2J', rule: 'paths:allowed' }, ip: '', result: 'success', request_id: 'r', seq: 8 });
    await m.until((x) => x.includes('policy.allow session:ses-1 session:ses-1 write /workspace/a\\x1b[2J [paths:allowed]'), 'what the policy allowed, escaped');
    m.unmount();
    const g = fixture({ scopes: ['read', 'control'] });
    m = mount({ client: g.client, theme });
    await m.until((x) => x.includes('daemon ok'), 'status');
    await m.press('4');
    await m.until((x) => x.includes('(no entries yet)'), 'no audit for a non-auditor');
    assert.equal(g.audit.opened, 0);
  });

  it('filters the current list with / and shows help with ?', async () => {
    const f = fixture({ sessions: [session('ses-a', { owner: 'alice' }), session('ses-b', { owner: 'bob' })] });
    m = mount({ client: f.client, theme });
    await m.until((x) => x.includes('Sessions (2)'), 'list');
    await m.press('/', 'b', 'o', 'b', KEY.enter);
    let fr = await m.until((x) => x.includes('Sessions (1)'), 'filtered');
    has(fr, 'ses-b'); hasNot(fr, 'ses-a');
    has(fr, '/bob');
    await m.press(KEY.esc);
    await m.until((x) => x.includes('Sessions (2)'), 'filter cleared');
    await m.press('?');
    fr = await m.until((x) => x.includes('Keys (esc closes)'), 'help');
    has(fr, 'approve the selected pending action');
    await m.press(KEY.esc);
    await m.until((x) => x.includes('Sessions (2)'), 'help closed');
  });

  it('marks data as not live while reconnecting, with back-off, and resumes from the last gid', async () => {
    const f = fixture({ sessions: [session('ses-1')] });
    m = mount({ client: f.client, theme, backoff: { initialMs: 50, maxMs: 200 } });
    await m.until((x) => x.includes('LIVE'), 'live');
    f.allEvents.push({ session_id: 'ses-1', seq: 1, gid: 41, time: '2026-12-04T05:06:07.000Z', type: 'state', message: 'x', data: {} });
    await m.until((x) => x.includes('last event 05:06:07'), 'last event time');
    f.down = true;
    f.allEvents.fail(new Error('connection reset'));
    let fr = await m.until((x) => x.includes('RECONNECTING'), 'reconnecting');
    has(fr, 'not live: reconnecting');
    await new Promise((r) => setTimeout(r, 400));
    fr = m.frame();
    assert.match(fr, /attempt [2-9]/);
    f.down = false;
    await m.until((x) => x.includes('LIVE') && !x.includes('not live'), 'live again');
    subset(f.allEvents.lastOptions, { after_gid: 41, follow: true });
  });
});

describe('loki dashboard approvals stream', () => {
  it('shows an approval decided and then consumed once among the recently decided (no duplicate rows)', async () => {
    const f = fixture({ pending: [approval('apr-dup', 'phase p01')] });
    const m = mount({ client: f.client, theme: { color: false, ascii: false } });
    try {
      await m.press('2');
      await m.until((x) => x.includes('Pending approvals (1)'), 'pending');
      const decided = approval('apr-dup', 'phase p01', { status: 'approved', decided_by: 'local', decided_at: '2026-12-04T05:02:00.000Z' });
      f.approvalEvents.push({ type: 'decided', approval: decided });
      f.approvalEvents.push({ type: 'consumed', approval: { ...decided, used_at: '2026-12-04T05:02:01.000Z' } });
      const fr = await m.until((x) => x.includes('Recently decided'), 'recent list');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(m.frame().match(/approved by local apr-dup/g)?.length, 1, fr);
    } finally {
      m.unmount();
    }
  });
});

describe('loki dashboard liveness', () => {
  it('is not live while the daemon does not answer, even when the streams stay open (the transport resumes them quietly), and re-reads the lists when it is back', async () => {
    const f = fixture({ sessions: [session('ses-1')] });
    const m = mount({ client: f.client, theme: { color: false, ascii: false }, pollMs: 100 });
    try {
      await m.until((x) => x.includes('LIVE') && x.includes('daemon ok'), 'live');
      f.down = true;
      const fr = await m.until((x) => x.includes('RECONNECTING') && x.includes('daemon unreachable'), 'daemon down');
      assert.match(fr, /not live: daemon unreachable, data as of \d\d:\d\d:\d\d/);
      assert.ok(!/^LIVE/m.test(fr), fr);
      f.sessions = [session('ses-1'), session('ses-2', { created_at: '2026-12-04T05:10:00.000Z' })];
      f.down = false;
      await m.until((x) => /^LIVE/m.test(x) && x.includes('Sessions (2)') && !x.includes('not live'), 'live again with the list re-read');
    } finally {
      m.unmount();
    }
  });
});
