// Small shared helpers of the dashboard (no DOM access outside hooks).
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { counted, displayLines, escapeForDisplay, shortenForDisplay } from '../../common/src/display.js';
import { BrowserLokiClient } from '../../client/src/http-browser.js';

export const api = new BrowserLokiClient();
export { counted, displayLines, escapeForDisplay, shortenForDisplay };

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `fn` now and whenever `deps` change; `reload()` runs it again. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (err: Error) => live && setState({ error: err.message, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
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
