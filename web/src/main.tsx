// The Loki web dashboard: a hash-routed Preact app. Every datum comes from the
// gateway's API through the browser transport (client/src/http-browser.ts),
// authenticated by the HttpOnly cookie session made at login.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { BrowserSession } from '../../client/src/http-browser.js';
import { Approvals } from './pages/approvals.js';
import { Audit } from './pages/audit.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Projects, Sandboxes } from './pages/resources.js';
import { SessionDetail } from './pages/session-detail.js';
import { Sessions } from './pages/sessions.js';
import { Tokens } from './pages/tokens.js';
import { outageText } from './connection.js';
import { api, canAudit, duration, isAdmin, link, useLink } from './util.js';
import './styles.css';

function useRoute(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash.slice(1) || '/';
}

const NAV: { href: string; label: string; show?: (scopes: string[]) => boolean }[] = [
  { href: '#/', label: 'Overview' },
  { href: '#/sessions', label: 'Sessions' },
  { href: '#/approvals', label: 'Approvals' },
  { href: '#/sandboxes', label: 'Sandboxes' },
  { href: '#/projects', label: 'Projects' },
  { href: '#/audit', label: 'Audit', show: canAudit },
  { href: '#/tokens', label: 'Tokens', show: isAdmin },
];

function Page({ route, me }: { route: string; me: BrowserSession }) {
  const m = /^\/sessions\/(ses-[0-9a-f]{12})$/.exec(route);
  if (m) return <SessionDetail key={m[1]!} id={m[1]!} me={me} />;
  switch (route) {
    case '/sessions':
      return <Sessions me={me} />;
    case '/approvals':
      return <Approvals me={me} />;
    case '/sandboxes':
      return <Sandboxes me={me} />;
    case '/projects':
      return <Projects />;
    case '/audit':
      return <Audit />;
    case '/tokens':
      return <Tokens />;
    case '/':
      return <Overview />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at <code>{route}</code>. <a href="#/">Go to the overview</a>.
          </p>
        </section>
      );
  }
}

const clock = (ms: number) => new Date(ms).toLocaleTimeString();

/** Says, above every page, when what it shows is not live, and briefly when it is live again. */
function LinkBanner() {
  const { link: l, restored } = useLink();
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!restored) return undefined;
    const t = setTimeout(() => setTick((n) => n + 1), Math.max(0, restored.at + 6000 - Date.now()));
    return () => clearTimeout(t);
  }, [restored]);
  if (l.state === 'down') {
    return (
      <div class="banner outage" role="alert" data-link="down">
        {outageText(l, clock)}
      </div>
    );
  }
  if (l.state === 'live' && restored && Date.now() - restored.at < 6000) {
    return (
      <div class="banner restored" role="status" data-link="restored">
        Live again after {duration(restored.afterMs)}; this page has been reloaded.
      </div>
    );
  }
  return null;
}

function App() {
  // undefined: asking; null: signed out; 'unreachable': cannot tell yet (Loki is not answering).
  const [me, setMe] = useState<BrowserSession | null | 'unreachable' | undefined>(undefined);
  const route = useRoute();
  const { link: l, epoch } = useLink();
  useEffect(() => {
    // Only a 401 means "not signed in"; a page reloaded while lokid is down must not ask for a token.
    api.whoami().then(setMe, (err: { kind?: string }) => setMe(err.kind === 'unauthenticated' ? null : 'unreachable'));
  }, [epoch]);
  useEffect(() => link.setSignedIn(typeof me === 'object' && me !== null && l.state !== 'signed_out'), [me, l.state]);
  useEffect(() => {
    // Move focus to the new page's heading so keyboard and screen-reader users land on it.
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route, me]);
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === 'unreachable') {
    return (
      <main id="main" class="login">
        <h1 tabIndex={-1}>Loki is not answering</h1>
        <LinkBanner />
        <p>This page will continue by itself as soon as it is back.</p>
      </main>
    );
  }
  if (l.state === 'signed_out') {
    const again = (who: BrowserSession) => {
      link.setSignedIn(true);
      setMe(who);
    };
    return <Login onLogin={again} notice={`Your sign-in has ended: ${l.message}`} />;
  }
  if (me === null) return <Login onLogin={setMe} />;
  const logout = async () => {
    link.setSignedIn(false);
    await api.logout().catch(() => undefined);
    // An OIDC browser session ends at /auth/logout (its cookie, and the IdP session when it offers logout).
    if (me.method === 'oidc') location.assign('/auth/logout');
    else setMe(null);
  };
  const base = route.split('/').slice(0, 2).join('/') || '/';
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Loki</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.show || n.show(me.scopes)).map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={(n.href.slice(1) === base ? 'page' : undefined)}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={me.scopes.join(', ')}>
            {me.subject} {me.role ? <span class="badge">{me.role}</span> : null}
          </span>
          <button type="button" class="secondary" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <LinkBanner />
      <main id="main" tabIndex={-1}>
        <Page route={route} me={me} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
