// Which audit entries are the gateway's report (AuditService.Record) rather than
// something the daemon did or saw itself. The gateway may record only these
// actions, and `config.change` only for its own config; the daemon never records
// the `auth.*`, `access.denied`, `rate_limit.reject` or `token.use` actions.
import type { AuditEntry } from './format.js';

/** What the gateway may record: events it alone observes. Everything else is audited by the daemon feature that did it. */
export const GATEWAY_ACTIONS: ReadonlySet<string> = new Set([
  'auth.fail',
  'auth.login',
  'auth.logout',
  'auth.web_login',
  'auth.web_logout',
  'access.denied',
  'rate_limit.reject',
  'token.use',
  'config.change',
]);

/** The one resource the gateway may record `config.change` for. */
export const GATEWAY_CONFIG_RESOURCE = 'config:gateway';

/** True for an entry only the gateway could have asked for (its volume is the gateway's to choose). */
export function isGatewayReport(e: Pick<AuditEntry, 'action' | 'resource'>): boolean {
  if (!GATEWAY_ACTIONS.has(e.action)) return false;
  return e.action !== 'config.change' || e.resource === GATEWAY_CONFIG_RESOURCE;
}
