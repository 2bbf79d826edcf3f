// The approvals queue: every pending action shown exactly (escaped, never cut),
// live: new asks appear and ones decided elsewhere disappear as they happen.
import { useEffect, useState } from 'preact/hooks';
import type { BrowserSession } from '../../../client/src/http-browser.js';
import type { Approval } from '../../../client/src/types.js';
import { age, api, canControl, duration, escapeForDisplay, useLink, useNow } from '../util.js';

export function useApprovals(sessionId?: string): { items: Approval[]; error?: string; remove: (id: string) => void } {
  const [items, setItems] = useState<Approval[]>([]);
  const [error, setError] = useState<string>();
  // Back after an outage: the queue is read again (what was decided or expired meanwhile leaves it).
  const { epoch } = useLink();
  useEffect(() => {
    const ctl = new AbortController();
    setItems([]);
    setError(undefined);
    api.approvals.list({ status: 'pending', ...(sessionId ? { session_id: sessionId } : {}) }).then(
      (list) => setItems((cur) => merge(cur, list)),
      (err: Error) => setError(err.message),
    );
    (async () => {
      for await (const ev of api.approvals.watch({ ...(sessionId ? { session_id: sessionId } : {}), signal: ctl.signal })) {
        const a = ev.approval;
        if (a.status === 'pending' && (ev.type === 'pending' || ev.type === 'requested' || ev.type === 'decided')) setItems((cur) => merge(cur, [a]));
        else setItems((cur) => cur.filter((x) => x.id !== a.id));
      }
    })().catch((err: Error) => setError(err.message));
    return () => ctl.abort();
  }, [sessionId, epoch]);
  return { items, error, remove: (id) => setItems((cur) => cur.filter((x) => x.id !== id)) };
}

function merge(cur: Approval[], add: Approval[]): Approval[] {
  const byId = new Map(cur.map((a) => [a.id, a]));
  for (const a of add) byId.set(a.id, a);
  return [...byId.values()].sort((x, y) => Date.parse(x.requested_at ?? '') - Date.parse(y.requested_at ?? ''));
}

export function ApprovalCard({ a, me, onDone }: { a: Approval; me: BrowserSession; onDone: (id: string) => void }) {
  const now = useNow();
  const live = useLink().link.state === 'live';
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const left = a.expires_at ? Date.parse(a.expires_at) - now : undefined;
  const shown = escapeForDisplay(a.action);
  const decide = async (verb: 'approve' | 'reject') => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api.approvals[verb](a.id, comment ? { comment } : {});
      // Under a two-person rule the first approval leaves it pending for a second person.
      if (r.status === 'pending') setError(`Recorded your approval (${r.approvers.length} of ${r.approvals_required}); another person must approve too.`);
      else onDone(a.id);
    } catch (err) {
      // Refused because Loki is not answering: say plainly that nothing was decided.
      const e = err as Error & { kind?: string };
      setError(e.kind === 'unavailable' ? `Not decided: ${e.message}. Nothing was recorded; decide again once the page is live.` : e.message);
    } finally {
      setBusy(false);
    }
  };
  const hid = `appr-${a.id}`;
  return (
    <article class="card approval" aria-labelledby={hid} data-approval={a.id}>
      <h2 id={hid}>
        <span class="kind">{a.action_kind}</span> in <a href={`#/sessions/${a.session_id}`}>{a.session_id}</a>
      </h2>
      <p class="label">Action (exactly as it will run; control characters shown as escapes)</p>
      <pre class="action" tabIndex={0} aria-label="Action">
        {shown}
      </pre>
      {shown !== a.action ? <p class="warn">This action contains hidden or control characters, shown above as escapes.</p> : null}
      <dl class="facts">
        {a.normalized && a.normalized !== a.action ? (
          <>
            <dt>Analysed as</dt>
            <dd class="mono">{escapeForDisplay(a.normalized)}</dd>
          </>
        ) : null}
        <dt>Rule</dt>
        <dd class="mono">{a.asked_by}</dd>
        <dt>Reason</dt>
        <dd>{escapeForDisplay(a.reason)}</dd>
        <dt>Asked</dt>
        <dd>{age(a.requested_at, now)} ago</dd>
        <dt>Expires</dt>
        <dd class={left !== undefined && left < 60_000 ? 'urgent' : ''}>{left === undefined ? 'never' : left > 0 ? `in ${duration(left)}` : 'expired'}</dd>
        <dt>Action hash</dt>
        <dd class="mono hash">{a.action_hash}</dd>
        {a.approvals_required > 1 || a.distinct_from_starter ? (
          <>
            <dt>{a.approvals_required > 1 ? 'Two-person rule' : 'Approver'}</dt>
            <dd class="two-person">
              {a.approvals_required > 1 ? `${a.approvers.length} of ${a.approvals_required} distinct approvers` : 'anyone with control'}
              {a.approvers.length ? ` (${a.approvers.map((x) => escapeForDisplay(x)).join(', ')})` : ''}
              {a.distinct_from_starter ? '; the session’s starter may not approve' : ''}
            </dd>
          </>
        ) : null}
      </dl>
      {canControl(me.scopes) ? (
        <div class="decide">
          <label for={`c-${a.id}`}>Comment</label>
          <textarea id={`c-${a.id}`} rows={2} maxLength={2000} value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} />
          <div class="row">
            <button type="button" class="approve" disabled={busy || !live} onClick={() => decide('approve')}>
              Approve
            </button>
            <button type="button" class="reject" disabled={busy || !live} onClick={() => decide('reject')}>
              Reject
            </button>
          </div>
        </div>
      ) : (
        <p class="hint">You can see this request but not decide it (your role has no control scope).</p>
      )}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </article>
  );
}

export function Approvals({ me }: { me: BrowserSession }) {
  const q = useApprovals();
  return (
    <section>
      <h1 tabIndex={-1}>Approvals</h1>
      <p class="hint" aria-live="polite">
        {q.items.length} pending
      </p>
      {q.error ? <p class="error" role="alert">{q.error}</p> : null}
      {q.items.length === 0 && !q.error ? <p class="empty">Nothing is waiting for a decision.</p> : null}
      <div class="cards">
        {q.items.map((a) => (
          <ApprovalCard key={a.id} a={a} me={me} onDone={q.remove} />
        ))}
      </div>
    </section>
  );
}
