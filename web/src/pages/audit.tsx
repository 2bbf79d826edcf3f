// Audit (auditor/admin): filter, page back through the HMAC-chained log, and verify the chain.
import { useState } from 'preact/hooks';
import type { AuditQuery, AuditVerification } from '../../../client/src/types.js';
import { auditWhat } from '../../../client/src/audit-text.js';
import { api, counted, escapeForDisplay, time, useLoad } from '../util.js';

/** Runs the daemon's HMAC chain check on demand (it reads the whole log) and says what it found. */
function VerifyChain() {
  const [r, setR] = useState<AuditVerification | string>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      setR(await api.audit.verify());
    } catch (err) {
      setR((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="verify row" aria-live="polite">
      <button type="button" class="secondary" disabled={busy} onClick={run}>
        {busy ? 'Verifying…' : 'Verify the chain'}
      </button>
      {typeof r === 'string' ? (
        <span class="error" role="alert">
          {r}
        </span>
      ) : r?.ok ? (
        <span class="ok" data-verify="ok">
          Intact: {counted(r.entries, 'entry', 'entries')} in {counted(r.files, 'file')} (last seq {r.last_seq})
        </span>
      ) : r ? (
        <span class="bad" data-verify="broken" role="alert">
          BROKEN at {r.file} line {r.line} (seq {r.seq}): {escapeForDisplay(r.reason ?? '')}; {r.entries} entries verified before it
        </span>
      ) : null}
    </div>
  );
}

export function Audit() {
  const [filter, setFilter] = useState<AuditQuery>({ limit: 50 });
  const [draft, setDraft] = useState({ action: '', user: '', result: '' });
  const [cursors, setCursors] = useState<number[]>([]);
  const page = useLoad(() => api.audit.query(filter), [JSON.stringify(filter)]);
  const apply = (e: Event) => {
    e.preventDefault();
    setCursors([]);
    setFilter({ limit: 50, ...(draft.action ? { action: draft.action } : {}), ...(draft.user ? { user: draft.user } : {}), ...(draft.result ? { result: draft.result } : {}) });
  };
  const older = () => {
    if (!page.data?.next_cursor) return;
    setCursors([...cursors, filter.cursor ?? 0]);
    setFilter({ ...filter, cursor: page.data.next_cursor });
  };
  const newer = () => {
    const prev = cursors[cursors.length - 1];
    setCursors(cursors.slice(0, -1));
    const { cursor: _c, ...rest } = filter;
    setFilter(prev ? { ...rest, cursor: prev } : rest);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Audit log</h1>
      <VerifyChain />
      <form class="filters" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          Action
          <input value={draft.action} onInput={(e) => setDraft({ ...draft, action: (e.target as HTMLInputElement).value })} placeholder="e.g. session.start" />
        </label>
        <label>
          User
          <input value={draft.user} onInput={(e) => setDraft({ ...draft, user: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Result
          <select value={draft.result} onChange={(e) => setDraft({ ...draft, result: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="denied">denied</option>
            <option value="error">error</option>
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      {page.error ? <p class="error" role="alert">{page.error}</p> : null}
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Audit entries">
        <table>
          <caption class="sr-only">Audit entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Action</th>
              <th scope="col">User</th>
              <th scope="col">Resource</th>
              <th scope="col">Result</th>
              <th scope="col">IP</th>
            </tr>
          </thead>
          <tbody>
            {(page.data?.entries ?? []).map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{time(e.timestamp)}</td>
                <td class="mono">{e.action}</td>
                <td>{escapeForDisplay(e.user)}</td>
                <td class="mono wrap">
                  {escapeForDisplay(e.resource)}
                  {auditWhat(e) ? <div class="muted audit-what">{auditWhat(e)}</div> : null}
                </td>
                <td>
                  <span class={`result result-${e.result}`}>{e.result}</span> {e.reason ? <span class="muted">{escapeForDisplay(e.reason)}</span> : null}
                </td>
                <td>{e.ip}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {page.data && page.data.entries.length === 0 ? <p class="empty">No audit entries{filter.action || filter.user || filter.result ? ' match these filters' : ' yet'}.</p> : null}
      </div>
      <div class="row">
        <button type="button" class="secondary" disabled={cursors.length === 0} onClick={newer}>
          Newer
        </button>
        <button type="button" class="secondary" disabled={!page.data?.next_cursor} onClick={older}>
          Older
        </button>
      </div>
    </section>
  );
}
