// Small shared helpers of the dashboard (no DOM access outside hooks).
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { counted, displayLines, escapeForDisplay, shortenForDisplay } from '../../common/src/display.js';
import { BrowserLokiClient } from '../../client/src/http-browser.js';
import { LinkMonitor, useLinkOf, type LinkView } from './connection.js';

export const api = new BrowserLokiClient();
/** Whether what the page shows is live (connection.ts). */
export const link = new LinkMonitor(api);

export function useLink(): LinkView {
  return useLinkOf(link);
}
export { counted, displayLines, escapeForDisplay, shortenForDisplay };

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `fn` now, whenever `deps` change, and when the link to Loki comes back after an outage;
 * `reload()` runs it again. A failed run keeps the data of the last good one (the outage banner
 * says it is not live) rather than blanking the page.
 */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const { epoch } = useLink();
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (err: Error) => live && setState((s) => ({ data: s.data, error: err.message, loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick, epoch]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/**
 * `value`, changing at most every `ms` (the last change always lands): a page that reloads on every
 * event of a stream must not send one request per event when a stream replays hundreds at once,
 * or it runs into the per-user rate limit.
 */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const [last, setLast] = useState(0);
  useEffect(() => {
    if (Object.is(value, shown)) return undefined;
    const wait = Math.max(0, last + ms - Date.now());
    const t = setTimeout(() => {
      setShown(value);
      setLast(Date.now());
    }, wait);
    return () => clearTimeout(t);
  }, [value, shown, last, ms]);
  return shown;
}

/** The current time, updated every `ms` (countdowns, ages). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function age(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  return duration(now - Date.parse(iso));
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function time(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function canControl(scopes: readonly string[]): boolean {
  return scopes.includes('*') || scopes.includes('control');
}

export function isAdmin(scopes: readonly string[]): boolean {
  return scopes.includes('*');
}

export function canAudit(scopes: readonly string[]): boolean {
  return scopes.includes('*') || scopes.includes('audit');
}

/** Project names by id (sessions carry the id); empty until loaded or when the list is refused. */
export function useProjectNames(): Map<string, string> {
  const projects = useLoad(() => api.projects.list().catch(() => []), []);
  return useMemo(() => new Map((projects.data ?? []).map((p) => [p.id, p.name])), [projects.data]);
}
