// A LokiClient whose API groups are built on first use. The gateway binds a
// client to each request's caller and calls one method of one group; building
// every group's closures up front cost each request ≈ 3.5 KB of garbage.
import type { LokiClient } from '../client.js';

type Group = 'sessions' | 'approvals' | 'sandboxes' | 'projects' | 'tasks' | 'memory' | 'tokens' | 'audit' | 'policy';

/** The groups as factories, the rest as is. */
export type LazyParts = Pick<LokiClient, 'transport' | 'status' | 'close'> & { [K in Group]: () => LokiClient[K] };

class LazyLokiClient implements LokiClient {
  readonly transport: LokiClient['transport'];
  readonly status: LokiClient['status'];
  readonly close: LokiClient['close'];
  private readonly built: Partial<Pick<LokiClient, Group>> = {};

  constructor(private readonly parts: LazyParts) {
    this.transport = parts.transport;
    this.status = parts.status;
    this.close = parts.close;
  }

  private group<K extends Group>(k: K): LokiClient[K] {
    const had = this.built[k] as LokiClient[K] | undefined;
    if (had) return had;
    const made = (this.parts[k] as () => LokiClient[K])();
    (this.built as Record<K, LokiClient[K]>)[k] = made;
    return made;
  }

  get sessions() {
    return this.group('sessions');
  }
  get approvals() {
    return this.group('approvals');
  }
  get sandboxes() {
    return this.group('sandboxes');
  }
  get projects() {
    return this.group('projects');
  }
  get tasks() {
    return this.group('tasks');
  }
  get memory() {
    return this.group('memory');
  }
  get tokens() {
    return this.group('tokens');
  }
  get audit() {
    return this.group('audit');
  }
  get policy() {
    return this.group('policy');
  }
}

export function lazyClient(parts: LazyParts): LokiClient {
  return new LazyLokiClient(parts);
}
