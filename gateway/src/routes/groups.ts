// The API's route groups as buildApp registers them by default. Tests may pass
// their own list (buildApp({ routes })) to build the app around one group.
import type { RouteGroup } from '../app.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { sessionRouteGroups } from './control.js';

export function defaultRouteGroups(daemon: DaemonClient): RouteGroup[] {
  return [...sessionRouteGroups(daemon)];
}
