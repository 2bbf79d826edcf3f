// grpc.health.v1 — the standard health protocol, for load balancers, systemd
// probes and `grpc_health_probe`. "" is the whole daemon.
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthService,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from '../../../proto/gen/grpc/health/v1/health.js';
import type { ServiceModule } from './module.js';

export class HealthState {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly events = new EventEmitter();

  constructor(services: readonly string[]) {
    this.statuses.set('', ServingStatus.NOT_SERVING);
    for (const s of services) this.statuses.set(s, ServingStatus.NOT_SERVING);
    this.events.setMaxListeners(0);
  }

  setAll(serving: boolean): void {
    for (const k of this.statuses.keys()) this.set(k, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  }

  set(service: string, s: ServingStatus): void {
    this.statuses.set(service, s);
    this.events.emit('change', service, s);
  }

  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  onChange(f: (service: string, s: ServingStatus) => void): () => void {
    this.events.on('change', f);
    return () => this.events.off('change', f);
  }
}

export function createHealthModule(state: HealthState): ServiceModule {
  return {
    name: 'grpc.health.v1.Health',
    roles: ['local-admin', 'gateway'],
    register(server) {
      server.addService(HealthService, {
        check: (call: { request: HealthCheckRequest }, cb: (err: { code: number; details: string } | null, res?: HealthCheckResponse) => void) => {
          const s = state.get(call.request.service);
          if (s === undefined) cb({ code: status.NOT_FOUND, details: `unknown service ${call.request.service.slice(0, 128)}` });
          else cb(null, { status: s });
        },
        watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
          const name = call.request.service;
          call.write({ status: state.get(name) ?? ServingStatus.SERVICE_UNKNOWN });
          const off = state.onChange((svc, s) => {
            if (svc === name) call.write({ status: s });
          });
          call.on('cancelled', off);
          call.on('close', off);
        },
      });
    },
  };
}
