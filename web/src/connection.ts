// Whether what the dashboard shows is live. lokid and the gateway are separate
// processes: lokid restarts (upgrade, crash) while the gateway and this page stay
// up, and then every call and stream fails with 503 `daemon_unavailable`. The
// browser transport reports each call's and stream's outcome here; on a failure
// of kind `unavailable` the page asks the gateway's public readiness probe
// (/healthz/ready: no credential, not rate limited) what is down, says so in a
// banner, keeps asking every PROBE_MS, and once the probe answers ready bumps
// `epoch` so every page reloads its data (the streams resume by themselves from
// Last-Event-ID). A failure of kind `unauthenticated` while signed in means the
// sign-in has ended (token revoked or expired, signed out elsewhere): the page
// asks for a new one instead of retrying with a credential that will only be refused.
import { useEffect, useState } from 'preact/hooks';
import type { BrowserLokiClient, LinkReport } from '../../client/src/http-browser.js';

/** How often a page that lost Loki asks again. */
export const PROBE_MS = 2000;

export type Link =
  | { state: 'live' }
  | { state: 'down'; what: 'daemon' | 'gateway'; since: number; lastLive: number }
  | { state: 'signed_out'; message: string };

export interface LinkView {
  link: Link;
  /** Bumped each time the link comes back: data loaded before it is reloaded. */
  epoch: number;
  /** When the link last came back, and how long it had been down (the "live again" note). */
  restored?: { at: number; afterMs: number };
}

type ReadyBody = { checks?: { daemon?: string } };

export class LinkMonitor {
  private view: LinkView = { link: { state: 'live' }, epoch: 0 };
  private readonly listeners = new Set<(v: LinkView) => void>();
  private lastLive = Date.now();
  private signedIn = false;
  private probing = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(client: BrowserLokiClient, private readonly probeMs = PROBE_MS) {
    client.observe((r) => this.report(r));
  }

  get current(): LinkView {
    return this.view;
  }

  subscribe(f: (v: LinkView) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Signed in (the app shows pages) or not (the login page: a 401 there is not news). */
  setSignedIn(v: boolean): void {
    this.signedIn = v;
    if (v && this.view.link.state === 'signed_out') this.set({ ...this.view, link: { state: 'live' } });
  }

  report(r: LinkReport): void {
    if (r.ok) {
      this.lastLive = Date.now();
      // One answer is not proof that lokid is back (a public route needs no daemon): the probe decides.
      if (this.view.link.state === 'down') void this.probe();
      return;
    }
    const kind = r.error.kind;
    if (kind === 'unauthenticated' && this.signedIn) {
      this.set({ ...this.view, link: { state: 'signed_out', message: r.error.message } });
    } else if (kind === 'unavailable') {
      void this.probe();
    }
  }

  /** Asks /healthz/ready what is down; keeps asking while something is. */
  async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    clearTimeout(this.timer);
    let down: 'daemon' | 'gateway' | undefined;
    try {
      const res = await fetch('/healthz/ready', { cache: 'no-store', credentials: 'same-origin' });
      const body = (await res.json().catch(() => undefined)) as ReadyBody | undefined;
      // 503 for a saturated gateway with lokid fine is not an outage of the data on screen.
      if (!res.ok) down = body?.checks?.daemon === 'unreachable' ? 'daemon' : body?.checks ? undefined : 'gateway';
    } catch {
      down = 'gateway';
    } finally {
      this.probing = false;
    }
    const was = this.view.link;
    if (down) {
      if (was.state === 'signed_out') return;
      const since = was.state === 'down' ? was.since : Date.now();
      this.set({ ...this.view, link: { state: 'down', what: down, since, lastLive: was.state === 'down' ? was.lastLive : this.lastLive } });
      this.timer = setTimeout(() => void this.probe(), this.probeMs);
    } else if (was.state === 'down') {
      this.lastLive = Date.now();
      this.set({ link: { state: 'live' }, epoch: this.view.epoch + 1, restored: { at: Date.now(), afterMs: Date.now() - was.since } });
    }
  }

  private set(v: LinkView): void {
    this.view = v;
    for (const f of this.listeners) f(v);
  }
}

/** The link as state: re-renders the component whenever it changes. */
export function useLinkOf(monitor: LinkMonitor): LinkView {
  const [v, setV] = useState(monitor.current);
  useEffect(() => {
    setV(monitor.current);
    return monitor.subscribe(setV);
  }, [monitor]);
  return v;
}

/** The words of the banner while Loki is not answering. */
export function outageText(l: Extract<Link, { state: 'down' }>, clock: (ms: number) => string): string {
  const who = l.what === 'daemon' ? 'Loki’s daemon (lokid) is not answering' : 'The Loki gateway is not answering';
  return `Not live: ${who} since ${clock(l.since)}. What you see is as of ${clock(l.lastLive)} and may be out of date; nothing can be started, stopped or decided until it is back. Retrying every ${Math.round(PROBE_MS / 1000)} s…`;
}
