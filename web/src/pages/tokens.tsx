// Tokens (admin): generate (the secret is shown once, with a copy button), list, revoke.
import { useState } from 'preact/hooks';
import type { GeneratedToken } from '../../../client/src/types.js';
import { api, time, useLoad } from '../util.js';

export function Tokens() {
  const list = useLoad(() => api.tokens.list({ all: true }), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const [days, setDays] = useState('30');
  const [made, setMade] = useState<GeneratedToken>();
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string>();
  const generate = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      setMade(await api.tokens.generate({ name, role, expires_days: Number(days) }));
      setCopied(false);
      setName('');
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const revoke = async (id: string, label: string) => {
    if (!confirm(`Revoke the token "${label}"? Every request with it fails from now on.`)) return;
    try {
      await api.tokens.revoke(id);
      list.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const copy = async () => {
    if (!made) return;
    await navigator.clipboard.writeText(made.secret);
    setCopied(true);
  };
  return (
    <section>
      <h1 tabIndex={-1}>Tokens</h1>
      <form class="card" onSubmit={generate} aria-label="Generate a token">
        <h2>Generate a token</h2>
        <div class="row">
          <label>
            Name
            <input value={name} required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" title="letters, digits, dot, underscore or hyphen, starting with a letter or digit (at most 64)" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
              {['viewer', 'operator', 'auditor', 'admin'].map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            Expires (days)
            <input type="number" min={1} max={3650} value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <button type="submit">Generate</button>
      </form>
      {made ? (
        <div class="card secret" role="status">
          <h2>New token "{made.token.name}"</h2>
          <p>Copy it now: it is shown once and cannot be read again.</p>
          <div class="row">
            <code class="mono wrap" data-secret>
              {made.secret}
            </code>
            <button type="button" onClick={copy}>
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" class="secondary" onClick={() => setMade(undefined)}>
              Done
            </button>
          </div>
        </div>
      ) : null}
      {error || list.error ? (
        <p class="error" role="alert">
          {error ?? list.error}
        </p>
      ) : null}
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Tokens table">
        <table>
          <caption class="sr-only">Tokens</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role / scopes</th>
              <th scope="col">Owner</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((t) => (
              <tr key={t.id} data-token={t.name}>
                <td>{t.name}</td>
                <td>{t.role ?? t.scopes.join(', ')}</td>
                <td>{t.owner}</td>
                <td>{t.status}</td>
                <td>{time(t.created_at)}</td>
                <td>{t.expires_at ? time(t.expires_at) : 'never'}</td>
                <td>{time(t.last_used_at)}</td>
                <td>
                  {t.status === 'active' ? (
                    <button type="button" class="reject small" aria-label={`Revoke ${t.name}`} onClick={() => revoke(t.id, t.name)}>
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
