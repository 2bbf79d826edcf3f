// Sandboxes (list, logs, stop) and Projects (list).
import { useEffect, useState } from 'preact/hooks';
import type { BrowserSession } from '../../../client/src/http-browser.js';
import type { Sandbox } from '../../../client/src/types.js';
import { api, canControl, escapeForDisplay, time, useLoad } from '../util.js';

const LOG_LINES = 200;

/** The last lines of one sandbox's output, stdout and stderr apart; escaped, since an agent wrote them. */
function SandboxLogs({ sb, onClose }: { sb: Sandbox; onClose: () => void }) {
  const [chunks, setChunks] = useState<{ stream: 'stdout' | 'stderr'; data: string }[]>([]);
  const [state, setState] = useState<'loading' | 'done' | string>('loading');
  useEffect(() => {
    const ctl = new AbortController();
    setChunks([]);
    setState('loading');
    (async () => {
      for await (const c of api.sandboxes.logs(sb.id, { tail: LOG_LINES, signal: ctl.signal })) setChunks((cur) => [...cur, c]);
      setState('done');
    })().catch((err: Error) => !ctl.signal.aborted && setState(err.message));
    return () => ctl.abort();
  }, [sb.id]);
  const hid = `logs-${sb.id}`;
  return (
    <section class="card logs-panel" aria-labelledby={hid}>
      <div class="row">
        <h2 id={hid}>
          Logs of <span class="mono">{sb.name || sb.id}</span> <span class="muted">(last {LOG_LINES} lines; stderr marked)</span>
        </h2>
        <button type="button" class="secondary small" onClick={onClose}>
          Close
        </button>
      </div>
      {state !== 'loading' && state !== 'done' ? (
        <p class="error" role="alert">
          {state}
        </p>
      ) : null}
      <pre class="logs" tabIndex={0} aria-label={`Logs of ${sb.name || sb.id}`} aria-busy={state === 'loading'}>
        {chunks.map((c, i) => (
          <span key={i} class={c.stream === 'stderr' ? 'stderr' : undefined}>
            {c.data.split('\n').map(escapeForDisplay).join('\n')}
          </span>
        ))}
      </pre>
      {state === 'done' && chunks.length === 0 ? <p class="empty">No output.</p> : null}
    </section>
  );
}

export function Sandboxes({ me }: { me: BrowserSession }) {
  const list = useLoad(() => api.sandboxes.list({ all: me.scopes.includes('*') }), []);
  const [shown, setShown] = useState<Sandbox>();
  const stop = async (id: string) => {
    await api.sandboxes.stop(id).catch((err: Error) => alert(err.message));
    list.reload();
  };
  return (
    <section>
      <h1 tabIndex={-1}>Sandboxes</h1>
      {list.error ? <p class="error" role="alert">{list.error}</p> : null}
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Sandboxes table">
        <table>
          <caption class="sr-only">Sandboxes</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">Image</th>
              <th scope="col">Owner</th>
              <th scope="col">Session</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((b) => (
              <tr key={b.id} data-sandbox={b.id}>
                <td class="mono">{b.name || b.id}</td>
                <td>{b.state}</td>
                <td class="mono">{b.image}</td>
                <td>{b.owner}</td>
                <td>{b.session ? <a href={`#/sessions/${b.session}`}>{b.session}</a> : '—'}</td>
                <td>{time(b.created_at)}</td>
                <td class="actions">
                  <button type="button" class="secondary small" aria-label={`Logs of ${b.name || b.id}`} onClick={() => setShown(b)}>
                    Logs
                  </button>
                  {canControl(me.scopes) && b.state === 'running' ? (
                    <button type="button" class="reject small" onClick={() => stop(b.id)}>
                      Stop
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown ? <SandboxLogs sb={shown} onClose={() => setShown(undefined)} /> : null}
    </section>
  );
}

export function Projects() {
  const list = useLoad(() => api.projects.list(), []);
  return (
    <section>
      <h1 tabIndex={-1}>Projects</h1>
      {list.error ? <p class="error" role="alert">{list.error}</p> : null}
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Projects table">
        <table>
          <caption class="sr-only">Projects</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Path</th>
              <th scope="col">Base branch</th>
              <th scope="col">Protected branches</th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((p) => {
              const x = p as unknown as Record<string, unknown>;
              return (
                <tr key={String(x.id)}>
                  <td>{String(x.name)}</td>
                  <td class="mono wrap">{String(x.path ?? '')}</td>
                  <td class="mono">{String(x.base_branch ?? '')}</td>
                  <td class="mono">{Array.isArray(x.protected_branches) ? x.protected_branches.join(', ') : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
