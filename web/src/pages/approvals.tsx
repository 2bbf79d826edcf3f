// The approvals queue: every pending action shown exactly (escaped, never cut),
// live: new asks appear and ones decided elsewhere disappear as they happen.
import { useEffect, useState } from 'preact/hooks';
import type { BrowserSession } from '../../../client/src/http-browser.js';
import type { Approval } from '../../../client/src/types.js';
import { age, api, canControl, duration, escapeForDisplay, useNow } from '../util.js';

/** Two-person rule fields (present when the daemon enforces it for this approval's rule). */
type Approval2 = Approval & { approvals_required?: number; approvers?: string[]; distinct_from_starter?: boolean };

export function useApprovals(sessionId?: string): { items: Approval2[]; error?: string; remove: (id: string) => void } {
  const [items, setItems] = useState<Approval2[]>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    const ctl = new AbortController();
    setItems([]);
    api.approvals.list({ status: 'pending', ...(sessionId ? { session_id: sessionId } : {}) }).then(
      (list) => setItems((cur) => merge(cur, list)),
      (err: Error) => setError(err.message),
    );
    (async () => {
      for await (const ev of api.approvals.watch({ ...(sessionId ? { session_id: sessionId } : {}), signal: ctl.signal })) {
        const a = ev.approval as Approval2;
        if (a.status === 'pending' && (ev.type === 'pending' || ev.type === 'requested' || ev.type === 'decided')) setItems((cur) => merge(cur, [a]));
        else setItems((cur) => cur.filter((x) => x.id !== a.id));
      }
    })().catch((err: Error) => setError(err.message));
    return () => ctl.abort();
  }, [sessionId]);
  return { items, error, remove: (id) => setItems((cur) => cur.filter((x) => x.id !== id)) };
}

function merge(cur: Approval2[], add: Approval2[]): Approval2[] {
  const byId = new Map(cur.map((a) => [a.id, a]));
  for (const a of add) byId.set(a.id, a);
  return [...byId.values()].sort((x, y) => Date.parse(x.requested_at ?? '') - Date.parse(y.requested_at ?? ''));
}

export function ApprovalCard({ a, me, onDone }: { a: Approval2; me: BrowserSession; onDone: (id: string) => void }) {
  const now = useNow();
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const left = a.expires_at ? Date.parse(a.expires_at) - now : undefined;
  const shown = escapeForDisplay(a.action);
  const decide = async (verb: 'approve' | 'reject') => {
    setBusy(true);
    setError(undefined);
    try {
      const r = (await api.approvals[verb](a.id, comment ? { comment } : {})) as Approval2;
      // Under a two-person rule the first approval leaves it pending for a second person.
      if (r.status === 'pending') setError(`Recorded your approval; ${a.approvals_required ?? 2} distinct approvers are needed.`);
      else onDone(a.id);
    } catch (err) {
      setError((err as Error).message);
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
        {a.approvals_required && a.approvals_required > 1 ? (
          <>
            <dt>Two-person rule</dt>
            <dd>
              {a.approvers?.length ?? 0} of {a.approvals_required} distinct approvers
              {a.approvers?.length ? ` (${a.approvers.join(', ')})` : ''}
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
            <button type="button" class="approve" disabled={busy} onClick={() => decide('approve')}>
              Approve
            </button>
            <button type="button" class="reject" disabled={busy} onClick={() => decide('reject')}>
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
