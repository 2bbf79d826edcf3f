// GET /api/status (read): the daemon's status plus the gateway's own view.
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../../common/src/index.js';
import type { OidcStatus } from '../auth/oidc/types.js';
import type { DaemonClient } from '../../../client/src/grpc/index.js';
import type { DaemonStatus } from '../../../client/src/index.js';
import { callIdentity } from '../plugins/guard.js';

export interface StatusRouteOptions {
  daemon: DaemonClient;
  authEnabled: () => boolean;
  oidcStatus: () => OidcStatus;
}

export interface StatusDto {
  status: 'ok';
  version: string;
  /** The client's domain status (client/src/grpc/convert.ts), as every other surface sees it. */
  daemon: DaemonStatus;
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
      const daemon = await opts.daemon.getStatus(callIdentity(req));
      return {
        status: 'ok',
        version: daemon.version,
        daemon,
        gateway: { version: VERSION, auth: opts.authEnabled() ? 'enabled' : 'disabled', oidc: opts.oidcStatus() },
        caller: { subject: req.identity?.subject ?? 'anonymous', scopes: [...(req.identity?.scopes ?? [])] },
      };
    },
  );
}
