// The caller of the gRPC call being served, visible to code far below the
// handler (the audit log) without threading it through every feature. Used only
// to *mark* audit entries whose ip/request_id are the gateway's report; nothing
// decides access from it.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Caller } from './caller.js';

const storage = new AsyncLocalStorage<Caller>();

export function runWithCaller<T>(caller: Caller, fn: () => T): T {
  return storage.run(caller, fn);
}

export function currentCaller(): Caller | undefined {
  return storage.getStore();
}

/** Audit `details` that say which fields of an entry the gateway reported rather than the daemon observed. */
export function gatewayReportMarks(ip: string | undefined, requestId: string | undefined): Record<string, unknown> | undefined {
  const c = currentCaller();
  if (c?.role !== 'gateway') return undefined;
  const fields = [...(ip && ip === c.clientIp ? ['ip'] : []), ...(requestId && requestId === c.requestId ? ['request_id'] : [])];
  return fields.length ? { reported_by_gateway: fields } : undefined;
}
