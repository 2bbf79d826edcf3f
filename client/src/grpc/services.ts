// One generated client per daemon service, all on one channel (grpc-js shares
// the subchannel between clients with the same address, credentials and options).
import type { Client, ClientOptions } from '@grpc/grpc-js';
import { HealthClient } from '../../../proto/gen/grpc/health/v1/health.js';
import { AuditServiceClient } from '../../../proto/gen/loki/v1/audit.js';
import { PolicyServiceClient } from '../../../proto/gen/loki/v1/policy.js';
import { SandboxServiceClient } from '../../../proto/gen/loki/v1/sandbox.js';
import { SessionServiceClient } from '../../../proto/gen/loki/v1/sessions.js';
import { SystemServiceClient } from '../../../proto/gen/loki/v1/system.js';
import { TokenServiceClient } from '../../../proto/gen/loki/v1/tokens.js';
import { WorkspaceServiceClient } from '../../../proto/gen/loki/v1/workspace.js';
import { boundStreamConnect } from './connect-bound.js';
import { KEEPALIVE_MS, type Channel } from './daemon-client-wire.js';

export interface Services {
  system: SystemServiceClient;
  tokens: TokenServiceClient;
  health: HealthClient;
  audit: AuditServiceClient;
  sessions: SessionServiceClient;
  policy: PolicyServiceClient;
  sandbox: SandboxServiceClient;
  workspace: WorkspaceServiceClient;
  all: Client[];
}

export function createServices(ch: Channel): Services {
  // A stream waits for an unconnected channel no longer than lokid has to answer a ping (connect-bound.ts).
  // A fresh options object each: grpc-js takes `interceptor_providers` out of the one it is given.
  const make = <C extends Client>(Ctor: new (address: string, creds: Channel['credentials'], options: Partial<ClientOptions>) => C): C => {
    const c: C = new Ctor(ch.address, ch.credentials, { ...ch.options, interceptor_providers: [boundStreamConnect(() => c.getChannel(), KEEPALIVE_MS.timeout)] });
    return c;
  };
  const s = {
    system: make(SystemServiceClient),
    tokens: make(TokenServiceClient),
    health: make(HealthClient),
    audit: make(AuditServiceClient),
    sessions: make(SessionServiceClient),
    policy: make(PolicyServiceClient),
    sandbox: make(SandboxServiceClient),
    workspace: make(WorkspaceServiceClient),
  };
  return { ...s, all: Object.values(s) };
}
