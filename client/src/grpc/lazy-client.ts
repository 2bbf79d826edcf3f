// A LokiClient whose API groups are built on first use. The gateway binds a
// client to each request's caller and calls one method of one group; building
// every group's closures up front cost each request ≈ 3.5 KB of garbage.
import type { LokiClient } from '../client.js';

const GROUPS = ['sessions', 'approvals', 'sandboxes', 'projects', 'tasks', 'memory', 'tokens', 'audit', 'policy'] as const;
type Group = (typeof GROUPS)[number];

/** The groups as factories, the rest as is. */
export type LazyParts = Pick<LokiClient, 'transport' | 'status' | 'close'> & { [K in Group]: () => LokiClient[K] };

/** Each group is a getter that builds it once per client (the getters are made from GROUPS, below the class). */
class LazyLokiClient {
  readonly transport: LokiClient['transport'];
  readonly status: LokiClient['status'];
  readonly close: LokiClient['close'];
  private readonly built = new Map<Group, unknown>();

  constructor(private readonly parts: LazyParts) {
    this.transport = parts.transport;
    this.status = parts.status;
    this.close = parts.close;
  }

  group(k: Group): unknown {
    let g = this.built.get(k);
    if (g === undefined) {
      g = this.parts[k]();
      this.built.set(k, g);
    }
    return g;
  }
}

for (const k of GROUPS) {
  Object.defineProperty(LazyLokiClient.prototype, k, {
    get(this: LazyLokiClient) {
      return this.group(k);
    },
  });
}

export function lazyClient(parts: LazyParts): LokiClient {
  return new LazyLokiClient(parts) as unknown as LokiClient;
}
