// A request that cannot be decoded is the client's mistake, not the daemon's:
// the generated decoders throw for an int64 beyond what JavaScript holds exactly
// (2^53), and gRPC would turn that throw into INTERNAL. Every method's decoder
// is wrapped so such a request reaches the handler wrapper as a marker, which
// answers INVALID_ARGUMENT naming the field.
import type { Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

const UNDECODABLE = Symbol('loki.undecodable');

/** int64 request fields by method path and field-number path, for the error message. */
const INT64_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '/loki.v1.AuditService/Query': { '7': 'cursor' },
  '/loki.v1.SessionService/Events': { '2': 'after_seq', '3': 'after_gid' },
  '/loki.v1.SandboxService/Start': { '5.1': 'limits.memory_bytes', '5.3': 'limits.pids' },
  '/loki.v1.AgentService/Report': { '1.5': 'events[].input_tokens', '1.6': 'events[].output_tokens', '1.12': 'events[].runner_seq' },
  '/loki.v1.AgentService/Decide': { '3': 'decide_seq', '2.5': 'events[].input_tokens', '2.6': 'events[].output_tokens', '2.12': 'events[].runner_seq' },
};

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The first varint field (by number path) whose value JavaScript cannot hold exactly. */
function findUnsafe(buf: Uint8Array, prefix: string, depth: number): string | undefined {
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const path = prefix ? `${prefix}.${no}` : String(no);
    if (wt === WireType.Varint) {
      const v = BigInt(r.int64().toString());
      if (v > SAFE || v < -SAFE) return path;
    } else if (wt === WireType.LengthDelimited) {
      const inner = r.bytes();
      const hit = depth < 2 ? safeFind(inner, path, depth + 1) : undefined;
      if (hit) return hit;
    } else {
      r.skip(wt);
    }
  }
  return undefined;
}

function safeFind(buf: Uint8Array, prefix: string, depth: number): string | undefined {
  try {
    return findUnsafe(buf, prefix, depth);
  } catch {
    return undefined; // not a nested message (a string or bytes field)
  }
}

function describe(path: string, buf: Buffer): string {
  const at = safeFind(buf, '', 0);
  if (at === undefined) return 'the request could not be decoded';
  const name = INT64_FIELDS[path]?.[at] ?? `field #${at}`;
  return `${name} is out of range (integers must be between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER})`;
}

interface Undecodable {
  [UNDECODABLE]: string;
}

/** The reason a request could not be decoded, or undefined for a decoded request. */
export function undecodable(req: unknown): string | undefined {
  return req && typeof req === 'object' && UNDECODABLE in req ? (req as Undecodable)[UNDECODABLE] : undefined;
}

function safeDefinition(def: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [name, m] of Object.entries(def)) {
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer) => {
        try {
          return m.requestDeserialize(buf);
        } catch {
          return { [UNDECODABLE]: describe(m.path, buf) };
        }
      },
    };
  }
  return out as ServiceDefinition;
}

/** A unary method of one door as registered: its (safe) definition and its handler. */
export interface UnaryEntry {
  def: ServiceDefinition[string];
  handler: (call: unknown, callback: (err: unknown, res?: unknown) => void) => void;
}

/** The unary methods a door serves, by full path (what BatchService may run). */
export type UnaryMethods = Map<string, UnaryEntry>;

function record(def: ServiceDefinition, impl: UntypedServiceImplementation, into: UnaryMethods): void {
  for (const [name, m] of Object.entries(def)) {
    if (m.requestStream || m.responseStream) continue;
    // grpc-js finds a handler under the definition's key or its original name.
    const handler = (impl[name] ?? (m.originalName ? impl[m.originalName] : undefined)) as UnaryEntry['handler'] | undefined;
    if (typeof handler === 'function') into.set(m.path, { def: m, handler });
  }
}

/**
 * The server as modules see it: every service they add gets the safe decoders, and
 * its unary methods are recorded in `unary` (when given) with those decoders.
 */
export function withSafeDecoding(server: Server, unary?: UnaryMethods): Server {
  return new Proxy(server, {
    get(target, prop, receiver) {
      if (prop === 'addService') {
        return (def: ServiceDefinition, impl: UntypedServiceImplementation) => {
          const safe = safeDefinition(def);
          if (unary) record(safe, impl, unary);
          target.addService(safe, impl);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
