// SessionService's event stream for the gateway's SSE routes: a flow-controlled
// stream (the route pauses it while the socket is not draining) of the same
// domain events LokiClient yields. Every other session call goes through
// `forCaller(id).sessions` (LokiClient, converters in convert.ts).
import type { ServiceError } from '@grpc/grpc-js';
import { GRPC_STATUS, type LokiError } from '../../../common/src/index.js';
import type { SessionServiceClient, SessionEvent as PbSessionEvent } from '../../../proto/gen/loki/v1/sessions.js';
import type { SessionEvent } from '../types.js';
import { toSessionEvent } from './convert.js';
import { fromServiceError, metadataFor, type CallIdentity, type Channel } from './daemon-client-wire.js';

export interface SessionEventHandlers {
  onEvent(e: SessionEvent): void;
  onEnd(): void;
  onError(err: LokiError): void;
}

/** Flow control of a running event stream (the SSE route pauses it while the socket is not draining). */
export interface SessionEventStream {
  pause(): void;
  resume(): void;
  cancel(): void;
}

export interface SessionsClient {
  /** Empty sessionId = every session the caller may see (cursor `afterGid`). */
  events(q: { sessionId: string; afterSeq: number; afterGid: number; follow: boolean }, id: CallIdentity, h: SessionEventHandlers): SessionEventStream;
}

export function createSessionsClient(c: SessionServiceClient, channel: Channel): SessionsClient {
  return {
    events(q, id, h) {
      const call = c.events({ sessionId: q.sessionId, afterSeq: q.afterSeq, afterGid: q.afterGid, follow: q.follow }, metadataFor(id));
      call.on('data', (e: PbSessionEvent) => h.onEvent(toSessionEvent(e)));
      call.on('end', () => h.onEnd());
      call.on('error', (err: unknown) => {
        // A cancel from our side is not an error anyone needs to see.
        if ((err as Partial<ServiceError>).code === GRPC_STATUS.CANCELLED) return;
        h.onError(fromServiceError(err, channel));
      });
      return { pause: () => call.pause(), resume: () => call.resume(), cancel: () => call.cancel() };
    },
  };
}
