// SSE fan-out for GET /api/sessions/:id/events?follow=true: one daemon event
// stream per followed session per gateway, shared by every live subscriber of
// that session, and each event's SSE frame built once and written to all of
// them. Before, every subscriber had its own daemon stream (the daemon re-read
// SQLite per subscriber per event) and its own framing: 100 subscribers of one
// session saw a p99 delay of 33 s (issue 17, B16).
//
// Security: the hub never authorizes anyone. The route asks the daemon for the
// session with the subscriber's OWN credential before it joins (404/403 stop
// it there), and a subscriber that needs older events than the hub holds reads
// them through its own stream, with its own credential. The hub's upstream is
// opened with the credential of one live subscriber (the "holder"); when the
// holder leaves, the upstream is reopened from the last seq with a remaining
// subscriber's credential, so it never runs on a credential whose owner is gone.
// One hub per session (not per subject) keeps the fan-out for viewers with
// different tokens; every one of them was checked by the daemon on joining.
//
// Back-pressure: the shared upstream is never paused for one subscriber. Each
// subscriber's socket buffer is capped (`maxBufferedBytes`) and a subscriber
// that has not drained for `slowClientMs` is closed; it resumes with Last-Event-ID.
import type { PassThrough } from 'node:stream';
import type { SessionEvent } from '../../../client/src/index.js';
import type { CallIdentity, DaemonClient, SessionEventStream } from '../../../client/src/grpc/index.js';
import { errorFrame } from './sse.js';

export interface SessionHubOptions {
  /** Frames each hub keeps for subscribers that resume close behind (default 1024). */
  ringSize?: number;
  /** A subscriber whose unsent output (or live frames held during its catch-up) exceeds this is closed (default 4 MiB). */
  maxBufferedBytes?: number;
  /** A subscriber that has not drained for this long is closed (default 30 s). */
  slowClientMs?: number;
  /** Called when a subscriber is closed for being slow. */
  onSlow?: (sessionId: string) => void;
}

interface Frame {
  seq: number;
  buf: Buffer;
}

interface Subscriber {
  out: PassThrough;
  identity: CallIdentity;
  /** Highest seq written to this subscriber. */
  lastSeq: number;
  /** Live frames held while the subscriber catches up through its own stream; null once live. */
  pending: Frame[] | null;
  pendingBytes: number;
  catchUp?: SessionEventStream;
  slowTimer?: NodeJS.Timeout;
  closed: boolean;
}

interface Hub {
  sessionId: string;
  subs: Set<Subscriber>;
  /** The last `ringSize` frames; the hub holds every event with seq > base. */
  ring: Frame[];
  base: number;
  last: number;
  upstream: SessionEventStream;
  holder: Subscriber;
  /** Bumped when the upstream is replaced, so a cancelled stream's late callbacks are ignored. */
  generation: number;
}

/** The SSE frame of one session event (its id is the session's seq). */
export function sessionEventFrame(e: SessionEvent, id: number): string {
  const body = JSON.stringify({ session_id: e.session_id, seq: e.seq, gid: e.gid, time: e.time, type: e.type, message: e.message, data: e.data });
  // Event types are daemon-validated words; the JSON body has no raw newlines.
  return `id: ${id}\nevent: ${e.type.replace(/[^A-Za-z0-9_.-]/g, '_')}\ndata: ${body}\n\n`;
}


export class SessionHubs {
  private readonly hubs = new Map<string, Hub>();
  private readonly ringSize: number;
  private readonly maxBuffered: number;
  private readonly slowMs: number;

  constructor(
    private readonly daemon: DaemonClient,
    private readonly o: SessionHubOptions = {},
  ) {
    this.ringSize = o.ringSize ?? 1024;
    this.maxBuffered = o.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.slowMs = o.slowClientMs ?? 30_000;
  }

  /** Live hubs and their subscriber counts (tests, metrics). */
  stats(): { sessions: number; subscribers: number } {
    let subscribers = 0;
    for (const h of this.hubs.values()) subscribers += h.subs.size;
    return { sessions: this.hubs.size, subscribers };
  }

  /**
   * Joins `out` to the session's hub from `after` (exclusive). The caller has
   * already had the daemon authorize `identity` for the session. Returns the
   * function to call when the client goes away; `out` is ended by the hub when
   * the stream ends, fails, or the subscriber is too slow.
   */
  subscribe(sessionId: string, after: number, identity: CallIdentity, out: PassThrough): () => void {
    const sub: Subscriber = { out, identity, lastSeq: after, pending: null, pendingBytes: 0, closed: false };
    out.on('drain', () => {
      if (sub.slowTimer) clearTimeout(sub.slowTimer);
      sub.slowTimer = undefined;
    });
    let hub = this.hubs.get(sessionId);
    if (!hub) {
      hub = { sessionId, subs: new Set([sub]), ring: [], base: after, last: after, holder: sub, generation: 0, upstream: undefined as unknown as SessionEventStream };
      this.hubs.set(sessionId, hub);
      this.openUpstream(hub, sub, after);
    } else if (after >= hub.base) {
      hub.subs.add(sub);
      for (const f of hub.ring) if (f.seq > after) this.write(hub, sub, f);
    } else {
      hub.subs.add(sub);
      this.catchUp(hub, sub, after);
    }
    const h = hub;
    return () => this.leave(h, sub);
  }

  /** Ends every hub (gateway shutdown). */
  closeAll(): void {
    for (const hub of [...this.hubs.values()]) for (const s of [...hub.subs]) this.close(hub, s);
  }

  private openUpstream(hub: Hub, holder: Subscriber, afterSeq: number): void {
    const gen = ++hub.generation;
    hub.holder = holder;
    hub.upstream = this.daemon.sessions.events({ sessionId: hub.sessionId, afterSeq, afterGid: 0, follow: true }, holder.identity, {
      onEvent: (e) => {
        if (gen === hub.generation) this.deliver(hub, e);
      },
      onEnd: () => {
        if (gen === hub.generation) for (const s of [...hub.subs]) this.close(hub, s);
      },
      onError: (err) => {
        if (gen !== hub.generation) return;
        // The holder's credential no longer reaches the session (revoked, session
        // removed), or lokid went away: end everyone; each client reconnects and is checked again.
        for (const s of [...hub.subs]) {
          if (!s.closed) s.out.write(errorFrame(err, s.identity.requestId, 'session'));
          this.close(hub, s);
        }
      },
    });
  }

  private deliver(hub: Hub, e: SessionEvent): void {
    if (e.seq <= hub.last) return;
    const f: Frame = { seq: e.seq, buf: Buffer.from(sessionEventFrame(e, e.seq)) };
    hub.last = e.seq;
    hub.ring.push(f);
    if (hub.ring.length > this.ringSize) hub.base = hub.ring.shift()!.seq;
    for (const s of hub.subs) {
      if (s.pending) {
        s.pending.push(f);
        s.pendingBytes += f.buf.length;
        if (s.pendingBytes > this.maxBuffered) this.slow(hub, s);
      } else this.write(hub, s, f);
    }
  }

  /**
   * Events older than the hub holds come from the subscriber's own stream (its own
   * credential); live frames wait meanwhile. The replay normally reaches what the
   * hub had delivered when the subscriber joined (`upTo`). When it does not (the
   * hub started beyond the session's end: its first subscriber resumed with a future
   * Last-Event-ID), the events in between reach no hub, so the subscriber's own
   * stream follows until `upTo` (or the session's end) before it goes live.
   */
  private catchUp(hub: Hub, sub: Subscriber, after: number, upTo = hub.last, follow = false): void {
    sub.pending ??= [];
    let done = false;
    // The catch-up is this subscriber's own stream, so it is paused while the socket is full (as before the hub), not capped.
    const onDrain = () => sub.catchUp?.resume();
    sub.out.on('drain', onDrain);
    const finish = (goLive: boolean) => {
      if (done) return;
      done = true;
      sub.catchUp?.cancel();
      sub.catchUp = undefined;
      sub.out.off('drain', onDrain);
      if (!goLive) return this.catchUp(hub, sub, sub.lastSeq, upTo, true);
      const held = sub.pending ?? [];
      sub.pending = null;
      sub.pendingBytes = 0;
      for (const f of held) if (!sub.closed && f.seq > sub.lastSeq) this.write(hub, sub, f);
    };
    sub.catchUp = this.daemon.sessions.events({ sessionId: hub.sessionId, afterSeq: after, afterGid: 0, follow }, sub.identity, {
      onEvent: (e) => {
        if (done || sub.closed || e.seq <= sub.lastSeq) return;
        sub.lastSeq = e.seq;
        if (!sub.out.write(sessionEventFrame(e, e.seq))) sub.catchUp?.pause();
        if (follow && e.seq >= upTo) finish(true);
      },
      onEnd: () => finish(follow || sub.closed || sub.lastSeq >= upTo),
      onError: (err) => {
        if (done) return;
        done = true;
        sub.catchUp = undefined;
        if (!sub.closed) sub.out.write(errorFrame(err, sub.identity.requestId, 'session'));
        this.close(hub, sub);
      },
    });
  }

  private write(hub: Hub, sub: Subscriber, f: Frame): void {
    if (sub.closed || f.seq <= sub.lastSeq) return;
    sub.lastSeq = f.seq;
    if (sub.out.write(f.buf)) return;
    if (sub.out.writableLength > this.maxBuffered) return this.slow(hub, sub);
    sub.slowTimer ??= setTimeout(() => this.slow(hub, sub), this.slowMs);
  }

  /** Drops a subscriber that cannot keep up: destroyed, not ended, so its unsent buffer is freed now. */
  private slow(hub: Hub, sub: Subscriber): void {
    if (sub.closed) return;
    this.o.onSlow?.(hub.sessionId);
    this.leave(hub, sub);
    sub.out.destroy();
  }

  private close(hub: Hub, sub: Subscriber): void {
    if (!sub.closed) {
      sub.closed = true;
      sub.out.end();
    }
    this.leave(hub, sub);
  }

  private leave(hub: Hub, sub: Subscriber): void {
    sub.closed = true;
    if (sub.slowTimer) clearTimeout(sub.slowTimer);
    sub.catchUp?.cancel();
    sub.catchUp = undefined;
    if (!hub.subs.delete(sub)) return;
    if (hub.subs.size === 0) {
      hub.generation++;
      hub.upstream.cancel();
      if (this.hubs.get(hub.sessionId) === hub) this.hubs.delete(hub.sessionId);
    } else if (hub.holder === sub) {
      // Never keep streaming on a departed subscriber's credential.
      hub.upstream.cancel();
      this.openUpstream(hub, hub.subs.values().next().value!, hub.last);
    }
  }
}
