// GET /api/status (read): the daemon's status plus the gateway's own view.
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../../common/src/index.js';
import type { OidcStatus } from '../auth/oidc/types.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import { callIdentity } from '../plugins/guard.js';

export interface StatusRouteOptions {
  daemon: DaemonClient;
  authEnabled: () => boolean;
  oidcStatus: () => OidcStatus;
}

export interface StatusDto {
  status: 'ok';
  version: string;
  daemon: {
    version: string;
    started_at: string;
    uptime_seconds: number;
    docker: { reachable: boolean; version: string };
    base_image: { name: string; present: boolean };
    sandbox_runtime: { name: string; registered: boolean };
    sandboxes: { running: number; paused: number; exited: number; total: number };
    sandbox_pool: { size: number; ready: number; disabled: string };
  };
  gateway: { version: string; auth: 'enabled' | 'disabled'; oidc: OidcStatus };
  caller: { subject: string; scopes: string[] };
}

export async function statusRoutes(app: FastifyInstance, opts: StatusRouteOptions): Promise<void> {
  app.get(
    '/api/status',
    {
      config: { access: { scope: 'read' } },
      schema: { querystring: { type: 'object', properties: {}, additionalProperties: false } },
    },
    async (req): Promise<StatusDto> => {
      const s = await opts.daemon.getStatus(callIdentity(req));
      return {
        status: 'ok',
        version: s.version,
        daemon: {
          version: s.version,
          started_at: new Date(s.startedAtMs).toISOString(),
          uptime_seconds: s.uptimeSeconds,
          docker: { reachable: s.dockerReachable, version: s.dockerVersion },
          base_image: { name: s.baseImage, present: s.baseImagePresent },
          sandbox_runtime: { name: s.sandboxRuntime, registered: s.sandboxRuntimeRegistered },
          sandboxes: { ...s.sandboxes },
          sandbox_pool: { ...s.sandboxPool },
        },
        gateway: { version: VERSION, auth: opts.authEnabled() ? 'enabled' : 'disabled', oidc: opts.oidcStatus() },
        caller: { subject: req.identity?.subject ?? 'anonymous', scopes: [...(req.identity?.scopes ?? [])] },
      };
    },
  );
}
