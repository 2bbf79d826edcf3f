// The per-request logger (`req.log`). Fastify makes one child logger per request
// to carry `request_id`; with pino that means serialising the bindings (through
// the redaction rules) for every request, and again when the guard adds the
// subject, although most requests never log anything but the one request line.
// This logger keeps the request id and the subject and creates the pino child
// only when something logs through it. The request line itself is written
// through a logger derived from the parent with the bindings as its first fields:
// the same JSON keys and the same secret scrubbing of the written line, no child.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level } from 'pino';

type LogArgs = [obj: unknown, msg?: string, ...args: unknown[]];

// Fastify's binding key for the request id (app.ts sets `requestIdLogLabel` to it).
export const REQUEST_ID = 'request_id';

/** True when `key` is the one key of `b`. */
function onlyKey(b: Bindings, key: string): boolean {
  let has = false;
  for (const k in b) {
    if (k !== key) return false;
    has = true;
  }
  return has;
}

export class RequestLogger {
  private real: FastifyBaseLogger | undefined;
  // The two bindings a request gets (Fastify's request id, the guard's subject) are kept as
  // fields: copying and extending a bindings object per request, then spreading it into the
  // line, cost more than a microsecond each time (V8 leaves such objects off its fast paths).
  private readonly id: unknown;
  private who: unknown;

  constructor(
    private readonly parent: FastifyBaseLogger,
    bindings: Bindings,
    private readonly options: ChildLoggerOptions = {},
  ) {
    this.id = bindings[REQUEST_ID];
    // A route with its own log level, or bindings other than the request id, get a real child at once.
    if (options.level !== undefined || !onlyKey(bindings, REQUEST_ID)) this.real = parent.child(bindings, options);
  }

  /** True while no pino child exists: the request id and the subject are then all its bindings. */
  get plain(): boolean {
    return this.real === undefined;
  }

  get requestId(): unknown {
    return this.id;
  }

  get subject(): unknown {
    return this.who;
  }

  private own(): Bindings {
    return this.who === undefined ? { request_id: this.id } : { request_id: this.id, subject: this.who };
  }

  /** The pino child, made on first use; later bindings go straight to it. */
  private log(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.own(), this.options));
  }

  private enabled(level: Level): boolean {
    const l = (this.real ?? this.parent) as FastifyBaseLogger & { isLevelEnabled?: (l: string) => boolean };
    return l.isLevelEnabled ? l.isLevelEnabled(level) : true;
  }

  get level(): string {
    return this.real?.level ?? this.options.level ?? this.parent.level;
  }

  set level(l: string) {
    this.log().level = l;
  }

  private emit(level: 'info' | 'warn' | 'error' | 'fatal' | 'debug' | 'trace', a: LogArgs): void {
    if (this.enabled(level)) (this.log()[level] as (...x: LogArgs) => void)(...a);
  }

  info(...a: LogArgs): void {
    this.emit('info', a);
  }
  warn(...a: LogArgs): void {
    this.emit('warn', a);
  }
  error(...a: LogArgs): void {
    this.emit('error', a);
  }
  fatal(...a: LogArgs): void {
    this.emit('fatal', a);
  }
  debug(...a: LogArgs): void {
    this.emit('debug', a);
  }
  trace(...a: LogArgs): void {
    this.emit('trace', a);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.log().child(bindings, options);
  }

  bindings(): Bindings {
    if (this.real) return (this.real as FastifyBaseLogger & { bindings(): Bindings }).bindings();
    return { ...(this.parent as FastifyBaseLogger & { bindings?: () => Bindings }).bindings?.(), ...this.own() };
  }

  setBindings(b: Bindings): void {
    if (!this.real && onlyKey(b, 'subject')) this.who = b.subject;
    else (this.log() as FastifyBaseLogger & { setBindings(b: Bindings): void }).setBindings(b);
  }

  /**
   * One info line with this request's bindings, without making a child when none exists yet.
   * `via` is a logger derived from this one's parent (same level, hooks and destination).
   */
  line(via: FastifyBaseLogger, fields: Record<string, unknown>, msg: string): void {
    if (this.real) this.real.info(fields, msg);
    // pino leaves out undefined values: no subject before authentication, as with a child.
    else if (this.enabled('info')) via.info({ request_id: this.id, subject: this.who, ...fields }, msg);
  }
}

/** Fastify's `childLoggerFactory`: a RequestLogger instead of a pino child per request. */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}
