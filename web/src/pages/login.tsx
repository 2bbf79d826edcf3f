import { useState } from 'preact/hooks';
import type { BrowserSession } from '../../../client/src/http-browser.js';
import { api, useLoad } from '../util.js';

export function Login({ onLogin, notice }: { onLogin: (me: BrowserSession) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // Single sign-on is offered only when this gateway has it configured.
  const methods = useLoad(() => api.signInMethods(), []);
  const oidc = methods.data?.oidc ?? 'disabled';
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const me = await api.login(token);
      // The token is exchanged for an HttpOnly cookie; drop it from the page at once.
      setToken('');
      onLogin(me);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1 tabIndex={-1}>Sign in to Loki</h1>
      {notice ? (
        <p class="banner signed-out" role="alert" data-link="signed-out">
          {notice}
        </p>
      ) : null}
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellcheck={false} placeholder="loki_…" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <p class="hint">
          Paste a token from <code>loki token generate</code>. It is exchanged for a browser session cookie and is never stored by this page.
        </p>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {oidc === 'ready' ? (
        <p class="sso">
          Or <a href="/auth/oidc/login">sign in with your organisation (OIDC)</a>.
        </p>
      ) : oidc === 'unavailable' ? (
        <p class="sso hint">Single sign-on is configured but its identity provider cannot be reached right now; sign in with a token, or try again later.</p>
      ) : null}
    </main>
  );
}
