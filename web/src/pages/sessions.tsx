// Sessions: the live list (refreshed on every event of the all-sessions stream), filters, and a start form.
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { BrowserSession } from '../../../client/src/http-browser.js';
import type { Session } from '../../../client/src/types.js';
import { AUTONOMY_MODES, PROVIDERS, SESSION_STATES } from '../../../common/src/vocab.js';
import { age, api, canControl, useLoad, useNow, useProjectNames } from '../util.js';

const STATES = ['', ...SESSION_STATES];

/** Re-runs `reload` (at most every 300 ms) whenever any session emits an event. */
export function useLiveReload(reload: () => void): void {
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      for await (const _e of api.allEvents(ctl.signal)) {
        timer ??= setTimeout(() => {
          timer = undefined;
          reload();
        }, 300);
      }
    })().catch(() => undefined);
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
  }, [reload]);
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`state state-${state.replace(/[^a-z_]/g, '')}`}>{state.replace('_', ' ')}</span>;
}

function StartForm({ onStarted }: { onStarted: (s: Session) => void }) {
  const [open, setOpen] = useState(false);
  const [provider, setProvider] = useState('script');
  const [project, setProject] = useState('');
  const [autonomy, setAutonomy] = useState('');
  const [prompt, setPrompt] = useState('');
  const [plan, setPlan] = useState('- run: echo hello\n');
  const [error, setError] = useState<string>();
  const projects = useLoad(() => api.projects.list().catch(() => []), []);
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Start a session…
      </button>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const s = await api.sessions.start({ provider, ...(project ? { project } : {}), ...(autonomy ? { autonomy } : {}), prompt: prompt || 'dashboard session', ...(provider === 'script' ? { plan } : {}) });
      setOpen(false);
      onStarted(s);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="card start" onSubmit={submit} aria-label="Start a session">
      <h2>Start a session</h2>
      <div class="row">
        <label>
          Provider
          <select value={provider} onChange={(e) => setProvider((e.target as HTMLSelectElement).value)}>
            {PROVIDERS.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          Project
          <select value={project} onChange={(e) => setProject((e.target as HTMLSelectElement).value)}>
            <option value="">(default)</option>
            {(projects.data ?? []).map((p) => (
              <option key={p.id} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Autonomy
          <select value={autonomy} onChange={(e) => setAutonomy((e.target as HTMLSelectElement).value)}>
            <option value="">(policy default)</option>
            {AUTONOMY_MODES.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Prompt
        <input value={prompt} onInput={(e) => setPrompt((e.target as HTMLInputElement).value)} placeholder="What should the agent do?" />
      </label>
      {provider === 'script' ? (
        <label>
          Plan (YAML or JSON steps)
          <textarea rows={6} value={plan} onInput={(e) => setPlan((e.target as HTMLTextAreaElement).value)} spellcheck={false} />
        </label>
      ) : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <div class="row">
        <button type="submit">Start</button>
        <button type="button" class="secondary" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function Sessions({ me }: { me: BrowserSession }) {
  const [all, setAll] = useState(true);
  const [state, setState] = useState('');
  const [text, setText] = useState('');
  const list = useLoad(() => api.sessions.list({ all }), [all]);
  useLiveReload(list.reload);
  const now = useNow();
  const names = useProjectNames();
  const shown = useMemo(() => {
    const t = text.trim().toLowerCase();
    return (list.data ?? []).filter(
      (s) => (!state || s.state === state) && (!t || [s.id, s.owner, s.project_id, names.get(s.project_id) ?? '', s.provider, s.branch].some((v) => v.toLowerCase().includes(t))),
    );
  }, [list.data, state, text, names]);
  return (
    <section>
      <h1 tabIndex={-1}>Sessions</h1>
      {canControl(me.scopes) ? <StartForm onStarted={(s) => location.assign(`#/sessions/${s.id}`)} /> : null}
      <div class="filters" role="group" aria-label="Filters">
        <label>
          State
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Search
          <input type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} placeholder="id, owner, project, branch" />
        </label>
        <label class="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} /> include ended sessions
        </label>
      </div>
      {list.error ? <p class="error" role="alert">{list.error}</p> : null}
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Sessions table">
        <table>
          <caption class="sr-only">Sessions</caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">State</th>
              <th scope="col">Owner</th>
              <th scope="col">Project</th>
              <th scope="col">Provider</th>
              <th scope="col">Branch</th>
              <th scope="col">Iterations</th>
              <th scope="col">Cost</th>
              <th scope="col">Age</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td>
                  <a href={`#/sessions/${s.id}`}>{s.id}</a>
                </td>
                <td>
                  <StateBadge state={s.state} />
                </td>
                <td>{s.owner}</td>
                <td title={s.project_id}>{names.get(s.project_id) ?? (s.project_id || '—')}</td>
                <td>{s.provider}</td>
                <td class="mono">{s.branch || '—'}</td>
                <td>
                  {s.iteration}/{s.max_iterations}
                </td>
                <td>${s.cost_usd.toFixed(2)}</td>
                <td>{age(s.created_at, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!list.loading && shown.length === 0 ? <p class="empty">No sessions{state || text ? ' match these filters' : ' yet'}.</p> : null}
      </div>
    </section>
  );
}
