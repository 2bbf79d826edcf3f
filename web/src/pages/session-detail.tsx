// One session: its facts and controls, the live event stream, its approvals,
// the agent trail, the diff summary and the per-file, highlighted patch.
import { useEffect, useState } from 'preact/hooks';
import type { BrowserSession } from '../../../client/src/http-browser.js';
import type { SessionEvent } from '../../../client/src/types.js';
import { isTerminalState } from '../../../common/src/vocab.js';
import { PatchView, splitPatch } from '../highlight.js';
import { age, api, canControl, counted, displayLines, escapeForDisplay, time, useLink, useLoad, useNow, useProjectNames, useThrottled } from '../util.js';
import { ApprovalCard, useApprovals } from './approvals.js';
import { StateBadge } from './sessions.js';

function useEvents(id: string): SessionEvent[] {
  const [events, setEvents] = useState<SessionEvent[]>([]);
  useEffect(() => {
    const ctl = new AbortController();
    setEvents([]);
    (async () => {
      for await (const e of api.sessions.events(id, { follow: true, signal: ctl.signal })) setEvents((cur) => [...cur, e]);
    })().catch(() => undefined);
    return () => ctl.abort();
  }, [id]);
  return events;
}

function Event({ e }: { e: SessionEvent }) {
  // A command's output spans lines: the first beside the event, the rest in a block under it.
  const [first = '', ...more] = displayLines(e.message);
  return (
    <li data-seq={e.seq}>
      <span class="seq">#{e.seq}</span> <span class="mono evtype">{e.type}</span> <span class="evmsg">{first}</span>{' '}
      <time class="muted">{new Date(e.time).toLocaleTimeString()}</time>
      {more.length ? <pre class="evout">{more.join('\n')}</pre> : null}
    </li>
  );
}

function Events({ events }: { events: SessionEvent[] }) {
  return (
    <ol class="events" aria-live="polite" aria-label="Events">
      {events.map((e) => (
        <Event key={e.seq} e={e} />
      ))}
    </ol>
  );
}

function Changes({ id, tick }: { id: string; tick: number }) {
  const diff = useLoad(() => api.sessions.diff(id), [id, tick]);
  const patch = useLoad(() => api.sessions.patch(id), [id, tick]);
  const [file, setFile] = useState<string>();
  if (diff.error) return <p class="muted">Diff not available: {diff.error}</p>;
  if (!diff.data) return <p class="muted">Loading the diff…</p>;
  const files = patch.data ? splitPatch(patch.data.patch) : [];
  const current = files.find((f) => f.path === file) ?? files[0];
  return (
    <div>
      <p>
        <span class="mono">{diff.data.branch}</span> against <span class="mono">{diff.data.base_branch}</span>: {counted(diff.data.files_changed, 'file')},{' '}
        <span class="plus">+{diff.data.insertions}</span> <span class="minus">−{diff.data.deletions}</span>
      </p>
      <ul class="files">
        {diff.data.files.map((f) => (
          <li key={f.path}>
            <button type="button" class="link" aria-pressed={current?.path === f.path} onClick={() => setFile(f.path)}>
              {escapeForDisplay(f.path)}
            </button>{' '}
            <span class="plus">+{f.insertions}</span> <span class="minus">−{f.deletions}</span> {f.binary ? '(binary)' : ''}
          </li>
        ))}
      </ul>
      {patch.data?.truncated ? <p class="warn">The patch is truncated; see the branch for the rest.</p> : null}
      {current ? <PatchView file={current} /> : null}
    </div>
  );
}

function Trail({ id, tick }: { id: string; tick: number }) {
  const t = useLoad(() => api.sessions.trail(id), [id, tick]);
  if (t.error) return <p class="muted">Trail not available: {t.error}</p>;
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Agent trail table">
      <table>
        <caption class="sr-only">Agent trail</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Time</th>
            <th scope="col">Agent</th>
            <th scope="col">Action</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {(t.data ?? []).map((e) => (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>{time(e.timestamp)}</td>
              <td>{e.agent}</td>
              <td class="mono">{e.action}</td>
              <td class="mono wrap">{escapeForDisplay(JSON.stringify(e.details))}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SessionDetail({ id, me }: { id: string; me: BrowserSession }) {
  const events = useEvents(id);
  // Re-read the facts as events arrive, but at most once a second: opening a session replays all its events at once.
  const seen = useThrottled(events.length, 1000);
  const s = useLoad(() => api.sessions.get(id), [id, seen]);
  const approvals = useApprovals(id);
  const names = useProjectNames();
  const now = useNow();
  const [tab, setTab] = useState<'events' | 'trail' | 'changes'>('events');
  const [error, setError] = useState<string>();
  const live = useLink().link.state === 'live';
  const act = (verb: 'stop' | 'pause' | 'resume') => async () => {
    setError(undefined);
    try {
      await api.sessions[verb](id);
      s.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const ses = s.data;
  return (
    <section>
      <h1 tabIndex={-1}>
        Session <span class="mono">{id}</span>
      </h1>
      {s.error ? <p class="error" role="alert">{s.error}</p> : null}
      {ses ? (
        <>
          <dl class="facts wide">
            <dt>State</dt>
            <dd>
              <StateBadge state={ses.state} /> {ses.reason ? <span class="muted">{escapeForDisplay(ses.reason)}</span> : null}
            </dd>
            <dt>Owner</dt>
            <dd>{ses.owner}</dd>
            <dt>Project</dt>
            <dd title={ses.project_id}>{names.get(ses.project_id) ?? (ses.project_id || '—')}</dd>
            <dt>Provider</dt>
            <dd>{ses.provider}</dd>
            <dt>Branch</dt>
            <dd class="mono">{ses.branch || '—'}</dd>
            <dt>Iterations</dt>
            <dd>
              {ses.iteration}/{ses.max_iterations}
            </dd>
            <dt>Decisions</dt>
            <dd>
              {ses.decisions.allow} allow · {ses.decisions.deny} deny · {ses.decisions.ask} ask
            </dd>
            <dt>Tasks</dt>
            <dd data-fact="tasks">
              {ses.tasks.completed} done · {ses.tasks.failed} failed · {ses.tasks.in_progress} active · {ses.tasks.pending} pending
            </dd>
            <dt>Cost</dt>
            <dd>${ses.cost_usd.toFixed(4)}</dd>
            <dt>Age</dt>
            <dd>{age(ses.created_at, now)}</dd>
          </dl>
          {canControl(me.scopes) && !isTerminalState(ses.state) ? (
            <div class="row controls">
              {ses.state === 'paused' ? (
                <button type="button" disabled={!live} onClick={act('resume')}>
                  Resume
                </button>
              ) : (
                <button type="button" class="secondary" disabled={!live} onClick={act('pause')}>
                  Pause
                </button>
              )}
              <button type="button" class="reject" disabled={!live} onClick={act('stop')}>
                Stop
              </button>
            </div>
          ) : null}
        </>
      ) : null}
      {error ? <p class="error" role="alert">{error}</p> : null}
      {approvals.items.length ? (
        <div class="cards">
          <h2>Waiting for approval</h2>
          {approvals.items.map((a) => (
            <ApprovalCard key={a.id} a={a} me={me} onDone={approvals.remove} />
          ))}
        </div>
      ) : null}
      <div role="tablist" aria-label="Session views" class="tabs">
        {(['events', 'trail', 'changes'] as const).map((t) => (
          <button key={t} type="button" role="tab" id={`tab-${t}`} aria-selected={tab === t} aria-controls={`panel-${t}`} onClick={() => setTab(t)}>
            {t === 'events' ? `Events (${events.length})` : t === 'trail' ? 'Agent trail' : 'Changes'}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'events' ? <Events events={events} /> : tab === 'trail' ? <Trail id={id} tick={seen} /> : <Changes id={id} tick={ses && isTerminalState(ses.state) ? 1 : 0} />}
      </div>
    </section>
  );
}
