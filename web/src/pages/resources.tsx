// Sandboxes (list, stop) and Projects (list).
import type { BrowserSession } from '../../../client/src/http-browser.js';
import { api, canControl, time, useLoad } from '../util.js';

export function Sandboxes({ me }: { me: BrowserSession }) {
  const list = useLoad(() => api.sandboxes.list({ all: me.scopes.includes('*') }), []);
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
            {(list.data ?? []).map((b) => {
              const x = b as unknown as Record<string, string | null>;
              return (
                <tr key={x.id}>
                  <td class="mono">{x.name ?? x.id}</td>
                  <td>{x.state}</td>
                  <td class="mono">{x.image}</td>
                  <td>{x.owner}</td>
                  <td>{x.session_id ? <a href={`#/sessions/${x.session_id}`}>{x.session_id}</a> : '—'}</td>
                  <td>{time(x.created_at)}</td>
                  <td>
                    {canControl(me.scopes) && x.state === 'running' ? (
                      <button type="button" class="reject small" onClick={() => stop(x.id!)}>
                        Stop
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
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
