import { VERSION } from '../../../common/src/index.js';
import { SystemServiceService, type GetStatusResponse } from '../../../proto/gen/loki/v1/system.js';
import type { SandboxManager } from '../sandbox/manager.js';
import type { SandboxDriver } from '../sandbox/types.js';
import { requireScope } from './caller.js';
import type { ServiceModule } from './module.js';
import { unary } from './wrap.js';

export interface SystemModuleDeps {
  driver: SandboxDriver;
  manager: SandboxManager;
  baseImage: string;
  /** sandbox.runtime from the daemon config (runc | runsc). */
  runtime: string;
  startedAtMs: number;
}

export function createSystemModule(deps: SystemModuleDeps): ServiceModule {
  return {
    name: 'loki.v1.SystemService',
    roles: ['local-admin', 'gateway'],
    register(server, ctx) {
      server.addService(SystemServiceService, {
        getStatus: unary(ctx, 'System.GetStatus', async (_req, caller): Promise<GetStatusResponse> => {
          requireScope(caller, 'read');
          let dockerVersion = '';
          let reachable = false;
          let imagePresent = false;
          let runtimeRegistered = false;
          const counts = { running: 0, paused: 0, exited: 0, total: 0 };
          try {
            const engine = await deps.driver.info();
            dockerVersion = engine.version;
            runtimeRegistered = deps.runtime in engine.runtimes;
            reachable = true;
            imagePresent = await deps.driver.imageExists(deps.baseImage);
            for (const s of await deps.manager.list(caller, true)) {
              counts.total++;
              if (s.state === 'running') counts.running++;
              else if (s.state === 'paused') counts.paused++;
              else counts.exited++;
            }
          } catch {
            reachable = false;
          }
          const now = Date.now();
          return {
            version: VERSION,
            startedAtMs: deps.startedAtMs,
            uptimeSeconds: (now - deps.startedAtMs) / 1000,
            dockerReachable: reachable,
            dockerVersion,
            baseImagePresent: imagePresent,
            baseImage: deps.baseImage,
            sandboxes: counts,
            callerRole: caller.role,
            callerSubject: caller.subject,
            sandboxRuntime: deps.runtime,
            sandboxRuntimeRegistered: runtimeRegistered,
          };
        }),
      });
    },
  };
}
