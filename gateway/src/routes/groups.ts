// The API's route groups as buildApp registers them by default. Tests may pass
// their own list (buildApp({ routes })) to build the app around one group.
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import type { RouteGroup } from '../app.js';
import { approvalRoutes, type ApprovalRouteOptions } from './approvals.js';
import { sessionRouteGroups } from './control.js';
import { policyRoutes } from './policy.js';
import { projectRoutes } from './projects.js';
import { registryRoutes } from './registry.js';
import { sandboxWsRoutes, type SandboxWsOptions } from './sandbox-ws.js';
import { sandboxRoutes, type SandboxRouteOptions } from './sandboxes.js';
import { sessionGitRoutes } from './session-git.js';

const group = <O>(plugin: (app: never, opts: O) => Promise<void>, options: O): RouteGroup => ({
  plugin: plugin as unknown as RouteGroup['plugin'],
  options: options as unknown as Record<string, unknown>,
});

export interface RouteGroupOptions {
  /** SSE heartbeat interval (default 15 s). */
  heartbeatMs?: number;
}

export function defaultRouteGroups(daemon: DaemonClient, o: RouteGroupOptions = {}): RouteGroup[] {
  const sse = o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {};
  return [
    ...sessionRouteGroups(daemon, sse),
    group<{ daemon: DaemonClient }>(sessionGitRoutes, { daemon }),
    group<ApprovalRouteOptions>(approvalRoutes, { daemon, ...sse }),
    group<SandboxRouteOptions>(sandboxRoutes, { daemon, ...sse }),
    group<SandboxWsOptions>(sandboxWsRoutes, { daemon }),
    group<{ daemon: DaemonClient }>(projectRoutes, { daemon }),
    group<{ daemon: DaemonClient }>(registryRoutes, { daemon }),
    group<{ daemon: DaemonClient }>(policyRoutes, { daemon }),
  ];
}
