// How a feature plugs its gRPC service into the daemon. Each listener (admin
// socket, gateway socket, mTLS TCP, per-session agent socket) gets its own
// grpc.Server; `register` is called once per listener with that listener's
// identity in `ctx.listener`, so handlers always know the caller's role.
import type { Server } from '@grpc/grpc-js';
import type { HandlerContext } from './wrap.js';

export interface ServiceModule {
  /** Fully-qualified service name, e.g. `loki.v1.SandboxService` (used by grpc.health.v1). */
  name: string;
  /** Roles that may reach this service at all; others do not get it registered. */
  roles: readonly ('local-admin' | 'gateway' | 'agent')[];
  register(server: Server, ctx: HandlerContext): void;
}
