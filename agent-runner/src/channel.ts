// The runner's side of the per-session agent socket: promisified calls, a
// batching event reporter and the heartbeat loop. The socket alone identifies
// the session, so nothing here ever names one.
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  AgentServiceClient,
  type AgentAction,
  type AgentDecideResponse,
  type AgentEvent,
  type SessionBrief,
} from '../../proto/gen/loki/v1/agent.js';
import type { TaskStatus } from '../../common/src/vocab.js';
import { decisionCodec, taskStatusCodec } from '../../common/src/wire-vocab.js';

export const DEFAULT_AGENT_SOCKET = '/run/loki-agent/agent.sock';
export const RUNNER_VERSION = '0.1.0';

type Callback<T> = (err: ServiceError | null, res: T) => void;
type UnaryFn<Req, Res> = (req: Req, md: Metadata, opts: object, cb: Callback<Res>) => unknown;

export type EventInput = Omit<Partial<AgentEvent>, 'taskStatus' | 'legacyTaskStatus'> & { type: string; taskStatus?: TaskStatus };

/** The daemon's verdict; anything but a clear allow (an unknown number, nothing) is a deny. */
export function isAllowed(d: AgentDecideResponse): boolean {
  return (decisionCodec.fromWire(d.decision) ?? d.legacyDecision) === 'allow';
}

/** The daemon's limits (it clips `message` and refuses larger `data_json`); clip here so nothing is lost to a refusal. */
const MAX_MESSAGE_CHARS = 8 * 1024;
const MAX_DATA_JSON_CHARS = 32 * 1024;
/** Well under the daemon's 1 MiB receive cap per Report. */
const MAX_BATCH_CHARS = 256 * 1024;

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * A count or cost as the wire can carry it. Token counts come from the model
 * server's answer: a string or a negative number there used to make every
 * Report fail to serialize, and the runner retried that batch forever.
 */
function wireNumber(v: unknown, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return 0;
  return integer ? Math.min(Math.floor(v), Number.MAX_SAFE_INTEGER) : v;
}

export function fullEvent(e: EventInput): AgentEvent {
  const data = e.dataJson ?? '';
  return {
    type: e.type,
    message: clip(e.message ?? '', MAX_MESSAGE_CHARS),
    dataJson: data.length > MAX_DATA_JSON_CHARS ? JSON.stringify({ truncated: true, chars: data.length }) : data,
    iteration: wireNumber(e.iteration, true),
    inputTokens: wireNumber(e.inputTokens, true),
    outputTokens: wireNumber(e.outputTokens, true),
    costUsd: wireNumber(e.costUsd, false),
    taskId: e.taskId ?? '',
    taskStatus: taskStatusCodec.toWire(e.taskStatus ?? ''),
    legacyTaskStatus: e.taskStatus ?? '',
    agent: e.agent ?? '',
    runnerSeq: e.runnerSeq ?? 0,
  };
}

export class AgentLink {
  readonly client: AgentServiceClient;
  private stop = false;
  /** The number of the last Decide asked (AgentDecideRequest.decide_seq), from 1 after this runner's Hello. */
  private decideSeq = 0;

  constructor(socketPath: string) {
    this.client = new AgentServiceClient(`unix:${socketPath}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    });
  }

  /** waitForReady: a restarting daemon re-opens the same socket; calls wait for it instead of failing. */
  private call<Req, Res>(fn: UnaryFn<Req, Res>, req: Req, deadlineMs?: number, signal?: AbortSignal, waitForReady = true): Promise<Res> {
    return new Promise((resolve, reject) => {
      const opts: Record<string, unknown> = { waitForReady };
      if (deadlineMs) opts.deadline = Date.now() + deadlineMs;
      const c = fn.call(this.client, req, new Metadata(), opts, (err, res) => (err ? reject(err) : resolve(res))) as { cancel(): void };
      signal?.addEventListener('abort', () => c.cancel(), { once: true });
    });
  }

  requestStop(): void {
    this.stop = true;
  }

  get stopRequested(): boolean {
    return this.stop;
  }

  /**
   * Asked again while it fails UNAVAILABLE, for up to 60 s: waitForReady covers a daemon that is
   * not listening yet, not one that dies with the Hello in flight (a crash or a restart as the
   * sandbox starts), which the restarted daemon would otherwise find as an exited runner. A Hello
   * sent twice only starts the numbering (and the runner generation) once more.
   */
  async hello(): Promise<SessionBrief> {
    // lokid counts this runner's Decides from 1 again after its Hello.
    this.decideSeq = 0;
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        return await this.call(this.client.hello, { runnerVersion: RUNNER_VERSION, pid: process.pid }, Math.max(1, until - Date.now()));
      } catch (err) {
        if ((err as ServiceError).code !== status.UNAVAILABLE || Date.now() + 250 >= until) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /**
   * No deadline: an `ask` blocks until a human decides. A call cut off by a
   * daemon restart (UNAVAILABLE) is asked again: nothing ran yet, so re-asking
   * is safe. `once` (the Claude hook) fails fast instead, and fails closed.
   * `events` (not reported yet) are recorded by the daemon before it decides:
   * reporting and asking in one round trip. Numbered once, here: asked again, the same number
   * tells lokid it is the same Decide, so one whose answer a restart cut off after a human
   * decided gets that answer instead of a second approval. `once` (a hook process of its own,
   * with no Hello) sends no number.
   */
  async decide(action: AgentAction, opts: { once?: boolean; signal?: AbortSignal; events?: AgentEvent[] } = {}): Promise<AgentDecideResponse> {
    const decideSeq = opts.once ? 0 : ++this.decideSeq;
    for (;;) {
      try {
        const res = await this.call(this.client.decide, { action, events: opts.events ?? [], decideSeq }, undefined, opts.signal, !opts.once);
        if (res.stopRequested) this.stop = true;
        return res;
      } catch (err) {
        if (opts.once || (err as ServiceError).code !== status.UNAVAILABLE || opts.signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async report(events: AgentEvent[]): Promise<void> {
    const res = await this.call(this.client.report, { events }, 60_000);
    if (res.stopRequested) this.stop = true;
  }

  async heartbeat(iteration: number): Promise<void> {
    const res = await this.call(this.client.heartbeat, { iteration }, 30_000);
    if (res.stopRequested) this.stop = true;
  }

  close(): void {
    this.client.close();
  }
}

/** Batches events (the daemon caps a report at 200) and keeps them in order. */
export class Reporter {
  private queue: AgentEvent[] = [];
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private beat: NodeJS.Timeout | undefined;
  /** The number of the last event emitted (AgentEvent.runner_seq): lokid records each number once. */
  private seq = 0;
  iteration = 0;

  constructor(
    private readonly link: AgentLink,
    private readonly log: (msg: string) => void,
    private readonly flushMs = 200,
    private readonly batch = 100,
  ) {}

  emit(e: EventInput): void {
    // Numbered once, here: a batch sent again (its call was cut off by a daemon restart) keeps
    // its numbers, so lokid records each event once, whether or not the first send got in.
    this.queue.push(fullEvent({ iteration: this.iteration, ...e, runnerSeq: ++this.seq }));
    if (this.queue.length >= this.batch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /**
   * For a Decide that carries them: once nothing is being sent, takes every queued
   * event when they fit in one report (else reports them first, as flush does, and
   * takes none). Order is kept: nothing reported earlier is still on its way.
   */
  async take(): Promise<AgentEvent[]> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let s = this.sending; ; s = this.sending) {
      await s;
      if (s === this.sending) break;
    }
    if (this.nextBatch().length < this.queue.length) {
      await this.flush();
      return [];
    }
    return this.queue.splice(0);
  }

  /** Events a failed Decide carried go back to the front of the queue (sent again, as a failed report's are). */
  requeue(events: AgentEvent[]): void {
    this.queue.unshift(...events);
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Sends everything queued so far; resolves once the daemon acknowledged it. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.sending.then(async () => {
      while (this.queue.length) {
        const chunk = this.nextBatch();
        try {
          await this.link.report(chunk);
          this.queue.splice(0, chunk.length);
        } catch (err) {
          const e = err as ServiceError;
          // A rejected batch would be rejected again: drop it rather than loop.
          if (e.code === status.INVALID_ARGUMENT || e.code === status.RESOURCE_EXHAUSTED) {
            this.log(`report rejected: ${e.details}`);
            this.queue.splice(0, chunk.length);
          } else {
            this.log(`report failed (${e.code}): ${e.details ?? e.message}; retrying`);
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    });
    return this.sending;
  }

  private nextBatch(): AgentEvent[] {
    let chars = 0;
    let n = 0;
    for (const e of this.queue) {
      chars += e.message.length + e.dataJson.length + 256;
      if (n > 0 && (n >= this.batch || chars > MAX_BATCH_CHARS)) break;
      n++;
    }
    return this.queue.slice(0, n);
  }

  startHeartbeat(everyMs: number): void {
    const tick = () => {
      this.link.heartbeat(this.iteration).then(
        () => undefined,
        (err: ServiceError) => this.log(`heartbeat failed: ${err.details ?? err.message}`),
      );
    };
    // One at once: the daemon learns the runner is alive before the first step.
    tick();
    this.beat = setInterval(tick, everyMs);
    this.beat.unref();
  }

  stopHeartbeat(): void {
    if (this.beat) clearInterval(this.beat);
  }
}
