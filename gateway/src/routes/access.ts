// What every route must declare next to its schema: the scope it needs, whether
// the resource is owner-scoped, and how rate limiting treats it. The auth plugin
// refuses to start when a route lacks this declaration (default deny).
import type { Scope } from '../../../common/src/index.js';

export interface RouteAccess {
  /** Scope required, or `public` (reachable without credentials: health and OIDC login only). */
  scope: Scope | 'public';
  /**
   * Owner-scoped resource (sessions, sandboxes, approvals). Declarative: the daemon
   * enforces ownership (it filters by subject unless the caller has `*`); the
   * OpenAPI document publishes it as `x-loki-owner-scoped`.
   */
  owner?: boolean;
  /**
   * `exempt`: never rejected by the rate limiter, the concurrency queue or lockout
   * (emergency `POST /api/control/stop`; also cheap health probes).
   */
  rateLimit?: 'default' | 'exempt';
  /**
   * Long-lived stream (SSE): counted by the rate limiter when it opens, but held
   * outside the per-subject concurrency slots (open dashboards must not lock a
   * user out) and capped by `rate_limit.max_streams_per_subject` instead.
   */
  stream?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

/** Paths that may be declared `public`; anything else declaring it fails startup. */
export const PUBLIC_PATHS: readonly RegExp[] = [/^\/health$/, /^\/healthz\/(live|ready)$/, /^\/auth\/oidc\/(login|callback)$/, /^\/auth\/logout$/, /^\/auth\/session$/, /^\/auth\/methods$/, /^\/$/, /^\/assets\/:name$/];

export function mayBePublic(url: string): boolean {
  return PUBLIC_PATHS.some((re) => re.test(url));
}
